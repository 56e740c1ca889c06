/**
 * kill -9 at 20 seeded random points (issue 26): SFT and GRPO trainers killed mid-run and resumed
 * end with the metrics of a run never killed; an import killed at any moment leaves the workspace
 * as it was (or wholly imported) and imports again; an export killed while it writes over a file
 * leaves the old file or the whole new one, never half.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/main/data/png';
import { seeded } from '../../src/shared/random';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { listDatasets } from '../../src/main/store/datasets';
import { listMetrics } from '../../src/main/store/runs';
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
  const exited = new Promise((resolve) => cli.on('exit', resolve));
  await expect
    .poll(() => metric(data, key).length, { timeout: 120_000, interval: 10 })
    .toBeGreaterThanOrEqual(at);
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

  it('SFT: killed at 6 points and resumed, the losses equal a run never killed', async () => {
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

  it('GRPO: killed at 4 points and resumed, the rewards and losses equal a run never killed', async () => {
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

  it('import: killed at 5 moments, the workspace is as it was or wholly imported, and imports again', async () => {
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

  it('export: killed at 5 moments while writing over a file, it is the old file or the whole new one', async () => {
    const data = workspace();
    const reference = path.join(dir, 'reference.json');
    expect(
      vrft('export', '--dataset', 'shapes', '--format', 'coco', '--out', reference, '--data', data).code,
    ).toBe(0);
    const whole = readFileSync(reference, 'utf8');
    for (const delay of points(5, 20, 400)) {
      const out = path.join(dir, `export-${delay}`);
      mkdirSync(out);
      const target = path.join(out, 'annotations.json');
      writeFileSync(target, 'the old file');
      const child = spawn(process.execPath, [
        'bin/vrft.js',
        'export',
        '--dataset',
        'shapes',
        '--format',
        'coco',
        '--out',
        target,
        '--force',
        '--data',
        data,
      ]);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await exited;
      expect(['the old file', whole], `killed after ${delay} ms`).toContain(readFileSync(target, 'utf8'));
    }
  }, 300_000);
});
