/**
 * kill -9 at 20 seeded random points (issue 26): SFT and GRPO trainers killed mid-run and resumed
 * end with the metrics of a run never killed; an import killed at any moment leaves the workspace
 * as it was (or wholly imported) and imports again; an export killed while it writes over a file,
 * or while it writes a folder (new, or replacing one with --force), leaves the old file or folder
 * or the whole new one, never half, and the next export clears what the killed one left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
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
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/main/data/png';
import { seeded } from '../../src/shared/random';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { addAnnotation } from '../../src/main/store/annotations';
import { addCategory } from '../../src/main/store/categories';
import { createDataset, listDatasets } from '../../src/main/store/datasets';
import { addImage } from '../../src/main/store/images';
import { listMetrics } from '../../src/main/store/runs';
import { tallyFault } from '../fault-reporter';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-kill-'));
const model = path.join(dir, 'model');
let baseline: string;
const rng = seeded(26);
let copies = 0;
const nativeBefore = process.env.VRFT_NATIVE;

beforeAll(() => {
  // Resumed and straight runs must take the same kernels: the wasm ones alone.
  process.env.VRFT_NATIVE = '0';
  saveTinyModel(model);
  baseline = shapesWorkspace(path.join(dir, 'baseline'), 6);
}, 120_000);
afterAll(() => {
  if (nativeBefore === undefined) delete process.env.VRFT_NATIVE;
  else process.env.VRFT_NATIVE = nativeBefore;
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh copy of the baseline workspace. */
function workspace(): string {
  const data = path.join(dir, `ws-${copies++}`);
  cpSync(baseline, data, { recursive: true });
  return data;
}

function config(name: string, fields: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ dataset: 'shapes', model, ...fields }));
  return file;
}

function metric(data: string, key: string): number[] {
  const db = openStore(workspaceDbPath(data));
  try {
    return listMetrics(db, 1, key).map((m) => m.value);
  } finally {
    db.close();
  }
}

function trainerOf(data: string): number | undefined {
  const pid = readdirSync('/proc').find((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmd.includes('trainer.js') && cmd.includes(data);
    } catch {
      return false;
    }
  });
  return pid === undefined ? undefined : Number(pid);
}

/** Trains, kills the trainer once `key` has `at` values, resumes; returns the metric after. */
async function killAndResume(
  method: string,
  file: string,
  key: string,
  at: number,
  steps: number,
): Promise<number[]> {
  const data = workspace();
  const cli = spawn(process.execPath, [
    'bin/vrft.js',
    'train',
    '--method',
    method,
    '--config',
    file,
    '--data',
    data,
  ]);
  // Its output is read as it comes: a pipe nobody reads fills, and the CLI would block on it.
  let output = '';
  cli.stdout.on('data', (d: Buffer) => (output += String(d)));
  cli.stderr.on('data', (d: Buffer) => (output += String(d)));
  let code: number | null | undefined;
  const exited = new Promise((resolve) =>
    cli.on('exit', (c) => {
      code = c;
      resolve(c);
    }),
  );
  // Until the kill point, or the CLI's end (a run that failed says why, instead of a timeout).
  await expect
    .poll(() => code !== undefined || metric(data, key).length >= at, { timeout: 120_000, interval: 10 })
    .toBe(true);
  if (metric(data, key).length < at)
    expect.fail(`vrft train ended (exit ${code}) before step ${at}: ${output}`);
  const pid = trainerOf(data);
  if (pid !== undefined) process.kill(pid, 'SIGKILL');
  await exited;
  // On a fast machine the run may have ended before the kill landed: then there is nothing to resume.
  const ended = metric(data, key).length === steps;
  if (!ended) {
    const resumed = vrft('train', '--resume', '1', '--data', data);
    expect(resumed.code, resumed.stderr).toBe(0);
  }
  return metric(data, key);
}

/** `n` distinct points in [lo, hi], seeded. */
function points(n: number, lo: number, hi: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < n) chosen.add(rng.int(lo, hi));
  return [...chosen].sort((a, b) => a - b);
}

describe('kill -9 at seeded random points', () => {
  const sftSteps = 24;
  const sft = () => config('sft', { batchSize: 2, learningRate: 0.003, steps: sftSteps, checkpointEvery: 3 });
  let straightSft: number[];

  it('SFT: killed at 6 points and resumed, the losses equal a run never killed', async ({ task }) => {
    tallyFault(task, { group: 'kill -9', cases: 6 });
    const data = workspace();
    expect(vrft('train', '--method', 'sft', '--config', sft(), '--data', data).code).toBe(0);
    straightSft = metric(data, 'loss');
    expect(straightSft).toHaveLength(sftSteps);
    // Points in the first half: the kill lands well before the end however fast the machine.
    for (const at of points(6, 1, sftSteps / 2)) {
      expect(await killAndResume('sft', sft(), 'loss', at, sftSteps), `killed after step ${at}`).toEqual(
        straightSft,
      );
    }
  }, 600_000);

  it('GRPO: killed at 4 points and resumed, the rewards and losses equal a run never killed', async ({
    task,
  }) => {
    tallyFault(task, { group: 'kill -9', cases: 4 });
    const steps = 10;
    const grpo = () =>
      config('grpo', {
        steps,
        promptsPerStep: 2,
        numGenerations: 4,
        maxCompletionLength: 32,
        checkpointEvery: 2,
        learningRate: 1e-3,
      });
    const data = workspace();
    expect(vrft('train', '--method', 'grpo', '--config', grpo(), '--data', data).code).toBe(0);
    const straight = metric(data, 'reward');
    const straightLoss = metric(data, 'loss');
    expect(straight).toHaveLength(steps);
    for (const at of points(4, 1, steps / 2)) {
      const rewards = await killAndResume('grpo', grpo(), 'reward', at, steps);
      expect(rewards, `killed after step ${at}`).toEqual(straight);
      expect(metric(path.join(dir, `ws-${copies - 1}`), 'loss'), `killed after step ${at}`).toEqual(
        straightLoss,
      );
    }
  }, 900_000);

  it('import: killed at 5 moments, the workspace is as it was or wholly imported, and imports again', async ({
    task,
  }) => {
    tallyFault(task, { group: 'kill -9', cases: 5 });
    const many = path.join(dir, 'many');
    mkdirSync(many, { recursive: true });
    for (let i = 0; i < 400; i++) {
      const rgb = new Uint8Array(96 * 96 * 3).map((_, k) => (k * 31 + i * 7) % 251);
      rgb.set([i & 255, i >> 8]); // every image different
      writeFileSync(path.join(many, `${i}.png`), encodePng(96, 96, rgb));
    }
    for (const delay of points(5, 100, 2500)) {
      const data = workspace();
      const child = spawn(process.execPath, [
        'bin/vrft.js',
        'import',
        many,
        '--dataset',
        'many',
        '--data',
        data,
      ]);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await exited;
      const db = openStore(workspaceDbPath(data));
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        const imported = listDatasets(db).find((d) => d.name === 'many');
        expect([undefined, 400], `killed after ${delay} ms`).toContain(imported?.imageCount);
        if (!imported) {
          db.close();
          expect(vrft('import', many, '--dataset', 'many', '--data', data).code).toBe(0);
        }
      } finally {
        if (db.open) db.close();
      }
    }
  }, 600_000);

  it('export: killed at 5 moments while writing over a file, it is the old file or the whole new one', async ({
    task,
  }) => {
    tallyFault(task, { group: 'kill -9', cases: 5 });
    const data = workspace();
    // Beside the target, at its depth: COCO names images relative to the file's folder when they
    // are under it (the workspace is under `dir`), so a reference in `dir` itself differs.
    mkdirSync(path.join(dir, 'reference-coco'));
    const reference = path.join(dir, 'reference-coco', 'annotations.json');
    expect(
      vrft('export', '--dataset', 'shapes', '--format', 'coco', '--out', reference, '--data', data).code,
    ).toBe(0);
    const whole = readFileSync(reference, 'utf8');
    // One target for every kill: each export starts from what the last one left.
    const out = path.join(dir, 'export-coco');
    mkdirSync(out);
    const target = path.join(out, 'annotations.json');
    writeFileSync(target, 'the old file');
    const exportCoco = ['export', '--dataset', 'shapes', '--format', 'coco', '--out', target, '--force'];
    for (const delay of points(5, 20, 400)) {
      const child = spawn(process.execPath, ['bin/vrft.js', ...exportCoco, '--data', data]);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await exited;
      expect(['the old file', whole], `killed after ${delay} ms`).toContain(readFileSync(target, 'utf8'));
    }
    expect(vrft(...exportCoco, '--data', data).code).toBe(0);
    expect(readdirSync(out)).toEqual(['annotations.json']); // no annotations.json.tmp-<pid> left
  }, 300_000);

  it('export: a YOLO folder killed at 5 moments, new or replacing one with --force, is as it was or whole', async ({
    task,
  }) => {
    tallyFault(task, { group: 'kill -9', cases: 5 });
    const data = workspace();
    const perDataset = 1000; // enough label files that writing them is under way when the kill lands
    manyImages(data, ['a', 'b'], perDataset);
    const exports = path.join(dir, 'yolo');
    const exportYolo = (dataset: string, out: string) => [
      'export',
      '--dataset',
      dataset,
      '--format',
      'yolo',
      '--out',
      out,
      '--force',
      '--data',
      data,
    ];
    // A new path, then a folder of an earlier export; the datasets alternate so old and new differ.
    const fresh = path.join(exports, 'new');
    const earlier = path.join(exports, 'earlier');
    mkdirSync(earlier, { recursive: true });
    writeFileSync(path.join(earlier, 'classes.txt'), 'an earlier export\n');
    const kills: { out: string; dataset: string; when: 'writing' | 'replacing' }[] = [
      { out: fresh, dataset: 'a', when: 'writing' },
      { out: fresh, dataset: 'b', when: 'writing' },
      { out: earlier, dataset: 'a', when: 'writing' },
      { out: earlier, dataset: 'b', when: 'replacing' },
      { out: earlier, dataset: 'a', when: 'writing' },
    ];
    const seen: { label: string; dataset: string; before: string; after: string }[] = [];
    const last = new Map([fresh, earlier].map((out) => [out, state(out)]));
    for (const { out, dataset, when } of kills) {
      const partial = (pid?: number) => `${out}.partial-${pid}`;
      const existed = existsSync(out);
      const at = rng.int(1, perDataset);
      const child = spawn(process.execPath, ['bin/vrft.js', ...exportYolo(dataset, out)]);
      // Killed once the folder under way holds `at` files, or once the old one is set aside.
      await killWhen(child, () =>
        when === 'writing'
          ? filesIn(...(existed ? [] : [out]), partial(child.pid)) >= at
          : existsSync(`${out}.old-${child.pid}`),
      );
      const label = `${path.basename(out)}: exporting ${dataset}, killed while ${when} (${at})`;
      seen.push({ label, dataset, before: last.get(out)!, after: state(out) });
      last.set(out, seen.at(-1)!.after);
    }
    // Uninterrupted, each export is whole: what every kill must have left, or what was there.
    const whole = new Map<string, string>();
    for (const [out, dataset] of [
      [fresh, 'a'],
      [earlier, 'b'],
    ] as const) {
      expect(vrft(...exportYolo(dataset, out)).code).toBe(0);
      whole.set(dataset, contents(out));
    }
    for (const { label, dataset, before, after } of seen)
      expect([before, whole.get(dataset)], label).toContain(after);
    // What the killed exports left beside their folders went with the next export.
    expect(readdirSync(exports).sort()).toEqual(['earlier', 'new']);
  }, 300_000);
});

/** `n` images per dataset named in `names`, rows only (an export reads no image), one box each. */
function manyImages(data: string, names: string[], n: number): void {
  const db = openStore(workspaceDbPath(data));
  try {
    db.transaction(() => {
      names.forEach((name, d) => {
        const datasetId = createDataset(db, { name }).id;
        const categoryId = addCategory(db, { datasetId, name: 'shape' }).id;
        for (let i = 0; i < n; i++) {
          const imageId = addImage(db, {
            datasetId,
            path: path.join(data, name, `${i}.png`),
            sha256: `${name}-${i}`,
            width: 64,
            height: 64,
          });
          const x = (i % 50) + d;
          addAnnotation(db, { imageId, categoryId, box: { x1: x, y1: 2, x2: x + 10, y2: 12 } });
        }
      });
    })();
  } finally {
    db.close();
  }
}

/** Files in the first of `folders` that exists (0 if none). */
function filesIn(...folders: string[]): number {
  for (const folder of folders) {
    try {
      return readdirSync(folder).length;
    } catch {
      // not there (yet, or any more)
    }
  }
  return 0;
}

/** A folder's files and their text, as one digest: equal for equal folders. */
function contents(folder: string): string {
  const hash = createHash('sha256');
  const names = readdirSync(folder).sort();
  for (const name of names) hash.update(`${name}\0${readFileSync(path.join(folder, name), 'utf8')}\0`);
  return `${names.length} files, ${hash.digest('hex').slice(0, 16)}`;
}

/**
 * What a folder export's target holds: absent, or its contents. A kill between the two renames of
 * a replace leaves the old folder whole beside it (`.old-<pid>`), which the next export puts back.
 */
function state(out: string): string {
  if (existsSync(out)) return contents(out);
  const aside = readdirSync(path.dirname(out)).find((name) => name.startsWith(`${path.basename(out)}.old-`));
  return aside ? contents(path.join(path.dirname(out), aside)) : 'absent';
}

/** Kills `child` (SIGKILL) once `ready()` holds, or not at all if it exits first; waits for its end. */
async function killWhen(child: ChildProcess, ready: () => boolean): Promise<void> {
  let exited = false;
  const done = new Promise((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve(undefined);
    }),
  );
  while (!exited && !ready()) await new Promise((resolve) => setTimeout(resolve, 1));
  child.kill('SIGKILL');
  await done;
}
