import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { getRun, listCheckpoints, listMetrics } from '../../src/main/store/runs';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-train-'));
const model = path.join(dir, 'model');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function workspace(name: string): string {
  return shapesWorkspace(path.join(dir, name));
}

function config(name: string, fields: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({ dataset: 'shapes', model, batchSize: 2, learningRate: 0.003, ...fields }),
  );
  return file;
}

function losses(data: string, runId: number): number[] {
  const db = openStore(workspaceDbPath(data));
  try {
    return listMetrics(db, runId, 'loss').map((m) => m.value);
  } finally {
    db.close();
  }
}

beforeAll(() => saveTinyModel(model));

describe('vrft train --method sft', () => {
  it('finds the shipped model by its relative path from any working directory', () => {
    const data = workspace('ws-shipped');
    // The Train view's default: resolved against vrft's own folder, not where it was started.
    const file = config('shipped', { model: 'resources/models/tiny-vlm-base', steps: 1 });
    const r = spawnSync(
      process.execPath,
      [path.resolve('bin/vrft.js'), 'train', '--method', 'sft', '--config', file, '--data', data],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const db = openStore(workspaceDbPath(data));
    try {
      expect(getRun(db, 1)?.config.model).toBe(path.resolve('resources/models/tiny-vlm-base'));
    } finally {
      db.close();
    }
  });

  it('trains in a trainer process and writes metrics, checkpoints and the model to the workspace', () => {
    const data = workspace('ws-a');
    const { code, stdout, stderr } = vrft(
      'train',
      '--method',
      'sft',
      '--config',
      config('a', { steps: 12, checkpointEvery: 4 }),
      '--data',
      data,
    );
    expect(code).toBe(0);
    // Progress is stderr's; train prints no result of its own.
    expect(stderr).toMatch(/run 1: training SFT for 12 steps on wasm/);
    expect(stderr).toMatch(/run 1: completed/);
    expect(stdout).toBe('');
    const db = openStore(workspaceDbPath(data));
    expect(getRun(db, 1)).toMatchObject({ kind: 'sft', status: 'completed', error: null });
    expect(listMetrics(db, 1, 'loss').map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const key of ['grad_norm', 'learning_rate', 'step_time'])
      expect(listMetrics(db, 1, key)).toHaveLength(12);
    expect(listCheckpoints(db, 1).map((c) => c.step)).toEqual([4, 8, 12]);
    db.close();
    expect(existsSync(path.join(data, 'runs', '1', 'model', 'model.safetensors'))).toBe(true);
  });

  it('resumes after the trainer is killed mid-run, reproducing the uninterrupted run', async () => {
    // Two separate runs are compared bit for bit: each trainer's timed load-time check could send a
    // class of work to different kernels on a busy machine (a run's own resume keeps its choices:
    // native.json), so both run on the wasm kernels alone.
    const nativeBefore = process.env.VRFT_NATIVE;
    process.env.VRFT_NATIVE = '0';
    onTestFinished(() => {
      if (nativeBefore === undefined) delete process.env.VRFT_NATIVE;
      else process.env.VRFT_NATIVE = nativeBefore;
    });
    const steps = 30;
    const straightData = workspace('ws-straight');
    expect(
      vrft(
        'train',
        '--method',
        'sft',
        '--config',
        config('s', { steps, checkpointEvery: 5 }),
        '--data',
        straightData,
      ).code,
    ).toBe(0);
    const straight = losses(straightData, 1);

    const data = workspace('ws-killed');
    const cli = spawn(process.execPath, [
      'bin/vrft.js',
      'train',
      '--method',
      'sft',
      '--config',
      config('k', { steps, checkpointEvery: 5 }),
      '--data',
      data,
    ]);
    const exited = new Promise<number | null>((resolve) => cli.on('exit', resolve));
    // Wait for a checkpoint past step 10, then SIGKILL the trainer process itself.
    const db = openStore(workspaceDbPath(data));
    await expect
      .poll(() => listCheckpoints(db, 1).filter((c) => c.step >= 10).length, {
        timeout: 60_000,
        interval: 20,
      })
      .toBeGreaterThan(0);
    const trainer = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .find((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          return cmd.includes('trainer.js') && cmd.includes(data);
        } catch {
          return false;
        }
      });
    expect(trainer).toBeDefined();
    process.kill(Number(trainer), 'SIGKILL');
    expect(await exited).toBe(1);
    const killedAt = listMetrics(db, 1, 'loss').length;
    expect(killedAt).toBeLessThan(steps);
    expect(getRun(db, 1)?.status).toBe('running'); // what a crash leaves
    db.close();

    const resumed = vrft('train', '--resume', '1', '--data', data);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming at step \d+/);
    const after = openStore(workspaceDbPath(data));
    expect(getRun(after, 1)?.status).toBe('completed');
    expect(listMetrics(after, 1, 'loss').map((m) => m.step)).toEqual(
      Array.from({ length: steps }, (_, i) => i + 1),
    );
    after.close();
    expect(losses(data, 1)).toEqual(straight);
  });

  it.each([
    [{ steps: 5, learningrate: 1 }, /unknown key "learningrate" \(did you mean "learningRate"\?\)/],
    [{ steps: 5, dataset: 'nope' }, /no dataset named "nope"/],
    [{ steps: 5, split: 'missing' }, /has no split named "missing"/],
    [{ steps: 5, model: '/nowhere' }, /is not a model folder/],
    [{ steps: 5, categories: ['unicorn'] }, /has no category "unicorn"/],
  ])('refuses a bad config %j in one line, exit 2, without creating a run', (fields, message) => {
    const data = workspace(`ws-bad-${Math.random().toString(36).slice(2)}`);
    const { code, stderr } = vrft(
      'train',
      '--method',
      'sft',
      '--config',
      config('bad', fields),
      '--data',
      data,
    );
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    const db = openStore(workspaceDbPath(data));
    expect(getRun(db, 1)).toBeUndefined();
    db.close();
  });
});
