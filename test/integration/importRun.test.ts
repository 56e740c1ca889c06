/**
 * `vrft import-run` on folders TRL wrote: a real TRL 1.13 GRPO run of the tiny Qwen2-VL with LoRA
 * (test/fixtures/trl-run/make.py made it) becomes a completed run with TRL's metrics, every
 * completion of its parquet files as a rollout, its checkpoints, and a final adapter that
 * `vrft eval --run` and `vrft export-model` use; an older TRL's log (VLM-R1 / Visual-RFT) is
 * renamed to vrft's metric names; a bad folder is one line and leaves the workspace as it was.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { countRollouts, listRollouts } from '../../src/main/store/rollouts';
import { getRun, listCheckpoints, listMetrics, listRuns, type MetricPoint } from '../../src/main/store/runs';
import { shapesWorkspaceWithSplit, vrft } from '../support/workspace';

const fixture = path.resolve('test/fixtures/trl-run/output');
const legacy = path.resolve('test/fixtures/trl-run/legacy-vlmr1');
const qwen = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
const expected = JSON.parse(readFileSync('test/fixtures/trl-run/expected.json', 'utf8')) as {
  rows: {
    step: number;
    prompt: string;
    completion: string;
    length: number;
    vowels: number;
    sample_id: string;
    advantage: number;
  }[];
};
const logHistory = (
  JSON.parse(readFileSync(path.join(fixture, 'trainer_state.json'), 'utf8')) as {
    log_history: Record<string, number>[];
  }
).log_history;

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-import-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Imported {
  runId: number;
  name: string;
  steps: number;
  metrics: number;
  rollouts: number;
  checkpoints: number;
  model: string | null;
}

function inStore<T>(data: string, fn: (db: ReturnType<typeof openStore>) => T): T {
  const db = openStore(workspaceDbPath(data));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A copy of a fixture folder to change. */
function copyOf(source: string, name: string): string {
  const copy = path.join(dir, name);
  cpSync(source, copy, { recursive: true });
  return copy;
}

describe('a TRL 1.13 GRPO output folder', () => {
  let data: string;
  let imported: Imported;
  beforeAll(() => {
    data = shapesWorkspaceWithSplit(path.join(dir, 'ws'), 6);
    const run = vrft('import-run', fixture, '--data', data, '--name', 'trl on a cluster', '--json');
    expect(run.code, run.stderr).toBe(0);
    imported = JSON.parse(run.stdout) as Imported;
  }, 200_000);

  it('prints one JSON document saying what it stored', () => {
    expect(imported).toEqual({
      runId: 1,
      name: 'trl on a cluster',
      steps: 3,
      metrics: expect.any(Number),
      rollouts: expected.rows.length,
      checkpoints: 3,
      model: fixture,
    });
  });

  it('is a completed GRPO run whose config says where it came from', () => {
    const run = inStore(data, (db) => getRun(db, 1))!;
    expect(run).toMatchObject({
      kind: 'grpo',
      status: 'completed',
      name: 'trl on a cluster',
      datasetId: null,
    });
    expect(run.config.source).toEqual({ kind: 'trl', dir: fixture, model: fixture });
    // The adapters' base, resolved to the folder it names here.
    expect(run.config.model).toBe(qwen);
    expect(run.config.trainerState).toMatchObject({ global_step: 3, train_batch_size: 4 });
  });

  it('keeps every numeric log_history value at its step, under TRL 1.x names', () => {
    const metrics = inStore(data, (db) => listMetrics(db, 1));
    const training = logHistory.filter((e) => !('train_runtime' in e));
    const want: MetricPoint[] = training.flatMap((e) =>
      Object.entries(e)
        .filter(([key]) => key !== 'step')
        .map(([key, value]) => ({ step: e.step!, key, value })),
    );
    const byKey = (a: MetricPoint, b: MetricPoint) => a.step - b.step || a.key.localeCompare(b.key);
    expect([...metrics].sort(byKey)).toEqual(want.sort(byKey));
    expect(imported.metrics).toBe(want.length);
    expect(metrics.map((m) => m.key)).toEqual(
      expect.arrayContaining(['rewards/length/mean', 'kl', 'reward']),
    );
    expect(metrics.some((m) => m.key.startsWith('train_'))).toBe(false);
  });

  it('stores every completion as a rollout, keyed by sample_id, with its rewards and advantage', () => {
    const rollouts = inStore(data, (db) => [1, 2, 3].flatMap((step) => listRollouts(db, 1, step)));
    expect(rollouts).toHaveLength(expected.rows.length);
    const order = (r: { step: number; promptKey: string; sampleIndex: number }) =>
      `${r.step}/${r.promptKey}/${r.sampleIndex}`;
    let index = 0;
    const want = expected.rows.map((row, i) => {
      const previous = expected.rows[i - 1];
      index = previous && previous.step === row.step && previous.sample_id === row.sample_id ? index + 1 : 0;
      return { ...row, sampleIndex: index };
    });
    const got = new Map(rollouts.map((r) => [order(r), r]));
    for (const row of want) {
      const rollout = got.get(
        order({ step: row.step, promptKey: row.sample_id, sampleIndex: row.sampleIndex }),
      );
      expect(rollout, `${row.step} ${row.sample_id}`).toBeDefined();
      expect(rollout).toMatchObject({
        prompt: row.prompt,
        completion: row.completion,
        rewards: { length: row.length, vowels: row.vowels },
        advantage: row.advantage,
        tokens: 0,
        truncated: false,
      });
      expect(rollout!.reward).toBeCloseTo(row.length + row.vowels, 12);
    }
    // Two prompts of two samples each at every step.
    expect(new Set(rollouts.map((r) => r.sampleIndex))).toEqual(new Set([0, 1]));
  });

  it('lists its checkpoints where TRL left them', () => {
    const checkpoints = inStore(data, (db) => listCheckpoints(db, 1));
    expect(checkpoints.map((c) => [c.step, c.path])).toEqual(
      [1, 2, 3].map((n) => [n, path.join(fixture, `checkpoint-${n}`)]),
    );
  });

  it('shows its rollouts in vrft traces', () => {
    const traces = vrft('traces', '1', '--step', '2', '--data', data, '--json');
    expect(traces.code, traces.stderr).toBe(0);
    const step = JSON.parse(traces.stdout) as { prompts: { promptKey: string; rollouts: number }[] };
    expect(step.prompts.map((p) => [p.promptKey, p.rollouts]).sort()).toEqual(
      [...new Set(expected.rows.filter((r) => r.step === 2).map((r) => r.sample_id))]
        .map((key) => [key, 2])
        .sort(),
    );
  });

  it('its final adapter is evaluated by vrft eval --run', { timeout: 300_000 }, () => {
    const evaluation = vrft(
      'eval',
      '--run',
      '1',
      '--dataset',
      'shapes',
      '--split',
      '1-shot-eval',
      '--max-new-tokens',
      '8',
      '--data',
      data,
      '--json',
    );
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const result = JSON.parse(evaluation.stdout) as { metrics: { answers: number; AP: number } };
    expect(result.metrics.answers).toBeGreaterThan(0);
    expect(result.metrics.AP).toBeGreaterThanOrEqual(0);
    inStore(data, (db) => {
      const run = getRun(db, 2)!;
      expect(run).toMatchObject({ kind: 'eval', status: 'completed', parentRunId: 1 });
      expect(run.config.model).toBe(fixture);
    });
  });

  it('without --dataset, eval says which flag names one', () => {
    const evaluation = vrft('eval', '--run', '1', '--split', '1-shot-eval', '--data', data);
    expect(evaluation.code).toBe(2);
    expect(evaluation.stderr.trim()).toMatch(/^vrft: run 1 names no dataset .*--dataset NAME$/);
  });

  it('export-model writes its adapter over the base, not the whole TRL folder', { timeout: 200_000 }, () => {
    const out = path.join(dir, 'exported');
    const exported = vrft('export-model', '1', '--out', out, '--data', data, '--json');
    expect(exported.code, exported.stderr).toBe(0);
    const result = JSON.parse(exported.stdout) as { from: string; base: string; files: { name: string }[] };
    expect(result).toMatchObject({ from: 'model', base: qwen });
    const names = result.files.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']));
    expect(names.some((n) => n.startsWith('checkpoint-') || n === 'completions')).toBe(false);
    expect(readFileSync(path.join(out, 'adapter_model.safetensors')).length).toBeGreaterThan(0);
  });

  it('without --name, the run is named after the folder; vrft-run.json gives vrft’s config', () => {
    const copy = copyOf(fixture, 'exported-run');
    writeFileSync(
      path.join(copy, 'vrft-run.json'),
      JSON.stringify({
        runId: 9,
        config: {
          dataset: 'shapes',
          split: '1-shot',
          evalSplit: '1-shot-eval',
          model: qwen,
          rewards: { length: 2 },
        },
      }),
    );
    const run = vrft('import-run', copy, '--data', data);
    expect(run.code, run.stderr).toBe(0);
    const id = Number(/^run (\d+) "exported-run": imported 3 steps\n/.exec(run.stdout)?.[1]);
    inStore(data, (db) => {
      const imported = getRun(db, id)!;
      expect(imported.name).toBe('exported-run');
      expect(imported.datasetId).toBe(1);
      expect(imported.splitId).not.toBeNull();
      expect(imported.config).toMatchObject({ evalSplit: '1-shot-eval', rewards: { length: 2 } });
      // A component the weights do not name counts once.
      for (const r of listRollouts(db, id, 1))
        expect(r.reward).toBeCloseTo(2 * r.rewards.length! + r.rewards.vowels!, 12);
    });
  });
});

describe('a VLM-R1 / Visual-RFT (older TRL) output folder', () => {
  const data = path.join(dir, 'legacy-ws');

  it('renames rewards/<fn> and completion_length to vrft’s names, keeping a NaN', () => {
    const run = vrft('import-run', legacy, '--data', data, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ runId: 1, name: 'legacy-vlmr1', steps: 4, rollouts: 0 });
    inStore(data, (db) => {
      expect(listMetrics(db, 1, 'rewards/accuracy_reward_iou/mean').map((m) => m.value)).toEqual([
        0.2375, 0.3, 0.4625, 0.55,
      ]);
      expect(listMetrics(db, 1, 'rewards/format_reward/mean').map((m) => m.step)).toEqual([1, 2, 3, 4]);
      expect(listMetrics(db, 1, 'completions/mean_length').map((m) => m.value)).toEqual([
        118.25, 104.5, 97.75, 90,
      ]);
      expect(listMetrics(db, 1, 'grad_norm').map((m) => m.value)).toEqual([3.1875, 2.90625, NaN, 2.578125]);
      const keys = new Set(listMetrics(db, 1).map((m) => m.key));
      expect(
        keys.has('completion_length') || keys.has('rewards/format_reward') || keys.has('train_runtime'),
      ).toBe(false);
      expect(listCheckpoints(db, 1).map((c) => c.step)).toEqual([2]);
      expect(countRollouts(db, 1)).toBe(0);
      expect(getRun(db, 1)!.config.source).toEqual({ kind: 'trl', dir: legacy, model: null });
    });
  });

  it('without a trainer_state.json of its own, reads its latest checkpoint’s', () => {
    const copy = copyOf(legacy, 'stopped-at-2');
    rmSync(path.join(copy, 'trainer_state.json'));
    const run = vrft('import-run', copy, '--data', data, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ steps: 2 });
    inStore(data, (db) => {
      expect(listMetrics(db, 2, 'reward').map((m) => m.step)).toEqual([1, 2]);
    });
  });

  it('eval --run says it has no final model to evaluate', () => {
    const evaluation = vrft('eval', '--run', '1', '--dataset', 'x', '--split', 'y', '--data', data);
    expect(evaluation.code).toBe(2);
    expect(evaluation.stderr.trim()).toMatch(
      /^vrft: run 1 was imported from .*legacy-vlmr1, which holds no final model/,
    );
  });
});

describe('a folder import-run cannot take', () => {
  const data = path.join(dir, 'bad-ws');
  const runsIn = () => (existsSync(workspaceDbPath(data)) ? inStore(data, (db) => listRuns(db).length) : 0);

  function refused(folder: string, message: RegExp): void {
    const before = runsIn();
    const run = vrft('import-run', folder, '--data', data);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(message);
    expect(lines.filter((l) => l.startsWith('vrft: ') && !l.startsWith('vrft: read '))).toHaveLength(1);
    expect(runsIn()).toBe(before);
  }

  it('a missing folder', () => refused(path.join(dir, 'nowhere'), /^vrft: .*nowhere: no such folder$/));

  it('a folder TRL did not write', () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(path.join(empty, 'checkpoint-5'), { recursive: true });
    refused(empty, /^vrft: .*empty is not a TRL output folder: it has no trainer_state\.json/);
  });

  it('a corrupt completions file, named', () => {
    const copy = copyOf(fixture, 'corrupt');
    const file = path.join(copy, 'completions', 'completions_00002.parquet');
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    refused(
      copy,
      /^vrft: .*completions_00002\.parquet: not a readable parquet file .*delete it to import without it$/,
    );
  });

  it('a trainer_state.json that is not JSON, named', () => {
    const copy = copyOf(legacy, 'bad-json');
    writeFileSync(path.join(copy, 'trainer_state.json'), '{"log_history": [');
    refused(copy, /^vrft: .*bad-json\/trainer_state\.json: not valid JSON/);
  });
});
