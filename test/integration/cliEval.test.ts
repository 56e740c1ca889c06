import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-cli-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

function vrft(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/vrft.js', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cases = JSON.parse(readFileSync('test/fixtures/coco/cases.json', 'utf8')) as {
  name: string;
  gt: unknown;
  dt: unknown;
  stats: number[];
  perCategoryAP: Record<string, number>;
  summary: string;
}[];

describe('vrft eval-map', () => {
  it.each(['random-3', 'crowd-boxes', 'category-without-gt', 'no-detections'])(
    '%s: --json gives exactly the stats and per-category AP of pycocotools',
    (name) => {
      const c = cases.find((x) => x.name === name)!;
      const { code, stdout } = vrft(
        'eval-map',
        '--gt',
        file(`${name}-gt.json`, c.gt),
        '--dt',
        file(`${name}-dt.json`, c.dt),
        '--json',
      );
      expect(code).toBe(0);
      const out = JSON.parse(stdout) as { stats: number[]; perCategoryAP: Record<string, number> };
      expect(Object.keys(out).sort()).toEqual(['perCategoryAP', 'stats']);
      out.stats.forEach((v, i) => expect(Math.abs(v - c.stats[i]!)).toBeLessThan(1e-6));
      expect(Object.keys(out.perCategoryAP).sort()).toEqual(Object.keys(c.perCategoryAP).sort());
      for (const [id, ap] of Object.entries(c.perCategoryAP))
        expect(Math.abs(out.perCategoryAP[id]! - ap)).toBeLessThan(1e-6);
    },
  );

  it('prints the same 12 summary lines as pycocotools', () => {
    for (const c of cases.slice(0, 2)) {
      const { stdout } = vrft('eval-map', '--gt', file('g.json', c.gt), '--dt', file('d.json', c.dt));
      expect(stdout.split('\n').slice(0, 12).join('\n')).toBe(c.summary.trimEnd());
    }
  });

  const gt = {
    images: [{ id: 1 }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100 }],
    categories: [{ id: 1 }],
  };
  it.each([
    ['not JSON', 'gt', '{"images": [', /gt\.json: not valid JSON/],
    ['a list as ground truth', 'gt', [], /a list \(a detections file\?\)/],
    ['no categories', 'gt', { images: [], annotations: [] }, /missing "categories"/],
    [
      'a bad bbox',
      'gt',
      { ...gt, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10] }] },
      /annotations\[0\]\.bbox must be/,
    ],
    [
      'a NaN score',
      'dt',
      '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": NaN}]',
      /dt\.json: not valid JSON.*NaN and Infinity are not JSON/,
    ],
    [
      'a missing score',
      'dt',
      [{ image_id: 1, category_id: 1, bbox: [0, 0, 5, 5] }],
      /dt\.json: \[0\]\.score must be a finite number/,
    ],
    [
      'an unknown image',
      'dt',
      [{ image_id: 7, category_id: 1, bbox: [0, 0, 5, 5], score: 1 }],
      /image_id 7 is not an image of the ground truth/,
    ],
    ['ground truth given as detections', 'dt', gt, /looks like a ground-truth file/],
  ])('refuses %s: one line naming the file, exit 2', (_label, which, content, message) => {
    const gtFile = file('gt.json', which === 'gt' ? content : gt);
    const dtFile = file('dt.json', which === 'dt' ? content : []);
    const { code, stderr, stdout } = vrft('eval-map', '--gt', gtFile, '--dt', dtFile);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).toBe('');
  });

  it('names a file that does not exist', () => {
    const { code, stderr } = vrft(
      'eval-map',
      '--gt',
      path.join(dir, 'nope.json'),
      '--dt',
      file('d.json', []),
    );
    expect(code).toBe(2);
    expect(stderr).toMatch(/nope\.json: no such file/);
  });
});

describe('vrft reward', () => {
  const completion = file(
    'completion.txt',
    "<think>a red circle at the top left</think><answer>[{'Position': [100, 100, 500, 500], 'Confidence': 0.9}]</answer>",
  );
  const solution = file('solution.json', [{ bbox: [64, 48, 320, 240], label: 'circle' }]);

  it('prints the total and each component', () => {
    const { code, stdout } = vrft(
      'reward',
      '--task',
      'detection',
      '--completion',
      completion,
      '--solution',
      solution,
      '--image-size',
      '640x480',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^total 2\.9000$/m);
    expect(stdout).toMatch(/^ {2}iou +1\.0000$/m);
    expect(stdout).toMatch(/^ {2}confidence +0\.9000$/m);
    expect(stdout).toMatch(/visual-rft dialect \(norm1000 frame\)/);
  });

  it('--json gives {total, components, parsed}', () => {
    const { stdout } = vrft(
      'reward',
      '--task',
      'detection',
      '--completion',
      completion,
      '--solution',
      solution,
      '--image-size',
      '640x480',
      '--json',
    );
    const out = JSON.parse(stdout) as {
      total: number;
      components: Record<string, number>;
      parsed: { detection: { dialect: string } };
    };
    expect(Object.keys(out)).toEqual(['total', 'components', 'parsed']);
    expect(out.total).toBeCloseTo(2.9, 12);
    expect(out.components).toEqual({ iou: 1, confidence: 0.9, format: 1 });
    expect(out.parsed.detection.dialect).toBe('visual-rft');
  });

  it('reads Qwen2.5-VL answers in the resized frame', () => {
    const c = file(
      'q.txt',
      '<think>x</think><answer>```json\n[{"bbox_2d": [64, 48, 322, 236], "label": "circle"}]\n```</answer>',
    );
    const { stdout } = vrft(
      'reward',
      '--task',
      'rec',
      '--completion',
      c,
      '--solution',
      solution,
      '--image-size',
      '640x480',
      '--resized-size',
      '644x476',
      '--json',
    );
    expect(JSON.parse(stdout).components.rec_iou).toBeGreaterThan(0.98);
  });

  it('scores classification against a label and synonyms', () => {
    const c = file('cls.txt', '<think>six sides</think><answer>Six-sided polygon.</answer>');
    const s = file('cls.json', { label: 'hexagon', synonyms: ['six-sided polygon'] });
    const { stdout } = vrft(
      'reward',
      '--task',
      'classification',
      '--completion',
      c,
      '--solution',
      s,
      '--json',
    );
    expect(JSON.parse(stdout)).toMatchObject({ total: 2, components: { accuracy: 1, format: 1 } });
  });

  it.each([
    [['--task', 'detect'], /--task must be one of detection, classification, rec, ovd/],
    [['--task', 'detection', '--solution', 'x'], /--completion is required/],
    [
      ['--task', 'detection', '--completion', 'COMPLETION', '--solution', 'SOLUTION'],
      /--image-size WxH is needed/,
    ],
    [
      ['--task', 'detection', '--completion', 'COMPLETION', '--solution', 'SOLUTION', '--image-size', '640'],
      /--image-size wants WIDTHxHEIGHT/,
    ],
    [
      ['--task', 'detection', '--completion', 'COMPLETION', '--solution', 'BAD', '--image-size', '9x9'],
      /bad\.json: \[0\]\.bbox needs x2 > x1/,
    ],
    [
      [
        '--task',
        'detection',
        '--completion',
        'COMPLETION',
        '--solution',
        'SOLUTION',
        '--image-size',
        '9x9',
        '--frame',
        'norm',
      ],
      /--frame must be one of/,
    ],
  ])('refuses %j with one line, exit 2', (args, message) => {
    const bad = file('bad.json', [{ bbox: [10, 10, 5, 20] }]);
    const filled = args.map((a) =>
      a === 'COMPLETION' ? completion : a === 'SOLUTION' ? solution : a === 'BAD' ? bad : a,
    );
    const { code, stderr } = vrft('reward', ...filled);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
