/**
 * `vrft import` of released Visual-RFT datasets as Hugging Face publishes them: a DatasetDict
 * saved with save_to_disk and the same rows as parquet, both made by the real `datasets` library
 * (test/fixtures/hf-datasets/make.py). Runs the built CLI: `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import type { Box } from '../../src/shared/boxes';
import { toPixels } from '../../src/main/rewards/frames';
import { listDatasetAnnotations } from '../../src/main/store/annotations';
import { listCategories } from '../../src/main/store/categories';
import { listDatasets } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { listImages } from '../../src/main/store/images';
import { listSplitImageIds, listSplits } from '../../src/main/store/splits';

const fixtures = path.resolve('test/fixtures/hf-datasets');
const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-import-hf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The rows make.py writes: split, image size, category, solution boxes on 0–1000 (none: 'No Objects'). */
const rows: { split: string; width: number; height: number; category: string; boxes: number[][] }[] = [
  { split: 'train', width: 64, height: 48, category: 'cat', boxes: [[100, 200, 500, 750]] },
  {
    split: 'train',
    width: 32,
    height: 40,
    category: 'dog',
    boxes: [
      [0, 0, 500, 500],
      [250, 500, 1000, 1000],
    ],
  },
  { split: 'train', width: 64, height: 48, category: 'cat', boxes: [] },
  { split: 'test', width: 32, height: 40, category: 'dog', boxes: [[125, 250, 875, 750]] },
  { split: 'test', width: 64, height: 48, category: 'cat', boxes: [[500, 0, 1000, 1000]] },
];

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['bin/vrft.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** One line per image, comparable whatever order the import wrote them in. */
function describeImage(
  split: string,
  size: { width: number; height: number },
  negative: boolean,
  boxes: { category: string; box: Box }[],
): string {
  const shown = boxes.map(
    ({ category, box: b }) => `${category} ${[b.x1, b.y1, b.x2, b.y2].map((v) => v.toFixed(3))}`,
  );
  return `${split} ${size.width}x${size.height}${negative ? ' negative' : ''}: ${shown.sort().join('; ')}`;
}

const expected = rows
  .map((row) =>
    describeImage(
      row.split,
      row,
      row.boxes.length === 0,
      row.boxes.map(([x1, y1, x2, y2]) => ({
        category: row.category,
        box: toPixels({ x1: x1!, y1: y1!, x2: x2!, y2: y2! }, 'norm1000', { image: row }),
      })),
    ),
  )
  .sort();

function imported(dataDir: string, name: string) {
  const db = openStore(workspaceDbPath(dataDir));
  try {
    const dataset = listDatasets(db).find((d) => d.name === name)!;
    const categories = new Map(listCategories(db, dataset.id).map((c) => [c.id, c.name]));
    const splitOf = new Map<number, string>();
    for (const split of listSplits(db, dataset.id)) {
      for (const id of listSplitImageIds(db, split.id)) splitOf.set(id, split.name);
    }
    const annotations = listDatasetAnnotations(db, dataset.id);
    const images = listImages(db, dataset.id);
    return {
      categories: [...categories.values()].sort(),
      splits: listSplits(db, dataset.id)
        .map((s) => `${s.name} ${s.kind}`)
        .sort(),
      images,
      lines: images
        .map((image) =>
          describeImage(
            splitOf.get(image.id) ?? '(none)',
            image,
            image.negative,
            annotations
              .filter((a) => a.imageId === image.id)
              .map((a) => ({ category: categories.get(a.categoryId)!, box: a })),
          ),
        )
        .sort(),
    };
  } finally {
    db.close();
  }
}

describe('vrft import of Hugging Face datasets (built)', () => {
  const cli = path.resolve('out/main/cli.js');

  it.each([
    ['save_to_disk', 'disk'],
    ['parquet', 'parquet'],
  ])('imports the %s fixture: images, sizes, categories, boxes and splits', (_, folder) => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const dataDir = path.join(root, `ws-${folder}`);
    const r = run('import', path.join(fixtures, folder), '--dataset', 'virft', '--data', dataDir);
    expect(r.stderr).not.toMatch(/^vrft: /m);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('5 images, 5 boxes, 2 categories') });
    expect(r.stdout).toContain('(hf)');
    expect(r.stdout).toMatch(/the file's splits \((train, test|test, train)\) became splits of the dataset/);
    expect(r.stdout).toContain(path.join(dataDir, 'imported', 'virft'));

    const got = imported(dataDir, 'virft');
    expect(got.categories).toEqual(['cat', 'dog']);
    expect(got.splits).toEqual(['test eval', 'train train']);
    expect(got.lines).toEqual(expected);
    // Embedded images are written into the workspace, named by their content hash.
    for (const image of got.images) {
      expect(path.dirname(image.path)).toBe(path.join(dataDir, 'imported', 'virft'));
      const sha = createHash('sha256').update(readFileSync(image.path)).digest('hex');
      expect(path.basename(image.path)).toBe(`${sha}.png`);
    }
  });

  it('picks the format explicitly and reads a single parquet file', () => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const dataDir = path.join(root, 'ws-one');
    const file = path.join(fixtures, 'parquet', 'data', 'test-00000-of-00001.parquet');
    const r = run('import', file, '--dataset', 'one', '--format', 'hf', '--data', dataDir);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('2 images, 2 boxes, 2 categories') });
    expect(imported(dataDir, 'one').lines).toEqual(expected.filter((line) => line.startsWith('test ')));
  });

  it('refuses a corrupt .arrow file by name and imports nothing', () => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const copy = path.join(root, 'corrupt');
    cpSync(path.join(fixtures, 'disk'), copy, { recursive: true });
    const arrow = path.join(copy, 'test', 'data-00000-of-00001.arrow');
    writeFileSync(arrow, 'this is not an Arrow stream');
    const dataDir = path.join(root, 'ws-corrupt');
    const r = run('import', copy, '--dataset', 'broken', '--data', dataDir);
    expect(r.code).toBe(2);
    const errors = r.stderr.split('\n').filter((line) => line.startsWith('vrft: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`${arrow}: is not an Arrow stream file`);
    expect(r.stderr).toContain('Nothing was imported');
    const db = openStore(workspaceDbPath(dataDir));
    expect(listDatasets(db)).toEqual([]);
    db.close();
    expect(
      existsSync(path.join(dataDir, 'imported')) ? readdirSync(path.join(dataDir, 'imported')) : [],
    ).toEqual([]);
  });

  it('refuses a row whose solution does not parse, or a missing column, naming file and row', () => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const dir = path.join(root, 'bad-rows');
    mkdirSync(dir, { recursive: true });
    const prompt = "Detect all objects belonging to the category 'cat' in the image.";
    const bad = path.join(dir, 'bad.arrow');
    const table = tableFromArrays({
      image: ['a.png', 'a.png'],
      problem: [prompt, prompt],
      solution: ["<answer>[{'Position': [1, 2, 3, 4], 'Confidence': 1}]</answer>", '<answer>a cat</answer>'],
    });
    writeFileSync(bad, tableToIPC(table, 'stream'));
    const dataDir = path.join(root, 'ws-bad');
    const r = run('import', bad, '--dataset', 'x', '--data', dataDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}, row 1, solution: is not a Visual-RFT answer`);

    const noImage = path.join(dir, 'no-image.arrow');
    writeFileSync(
      noImage,
      tableToIPC(tableFromArrays({ problem: [prompt], solution: ['No Objects'] }), 'stream'),
    );
    const missing = run('import', noImage, '--dataset', 'y', '--data', dataDir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${noImage}: has no image column`);
  });

  it('README names the format in the vrft import row', () => {
    const row = readFileSync('README.md', 'utf8')
      .split('\n')
      .find((line) => line.startsWith('| `vrft import PATH'));
    expect(row).toMatch(/\\\|hf\]/);
    expect(row).toContain('save_to_disk');
  });
});
