/**
 * What the Train view does through the contract, on a real workspace and real trainer processes:
 * named runs listed with everything the list shows (restored from the store), warnings kept,
 * evaluation of a run and of a checkpoint, aligned series for charts, the models a run can start
 * from, and an experiment (base vs SFT vs RFT) driven by the host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/shared/client';
import type { EventPayload, RunSummary } from '../../src/shared/contract';
import type { RunningHost } from '../../src/main/host/index';
import { hostWithClient } from '../support/host';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-train-view-'));
const model = path.join(dir, 'model');
const data = path.join(dir, 'data');
let host: RunningHost;
let client: Client;
const states: EventPayload<'job.state'>[] = [];
const experimentStates: EventPayload<'experiment.state'>[] = [];
let trainSplit: number;
let evalSplit: number;

async function startHostHere(): Promise<void> {
  ({ host, client } = await hostWithClient(data, dir));
  client.on('job.state', (s) => states.push(s));
  client.on('experiment.state', (s) => experimentStates.push(s));
}

beforeAll(async () => {
  saveTinyModel(model);
  shapesWorkspace(data, 12);
  await startHostHere();
  await client.call('splits.createFewShot', {
    datasetId: 1,
    name: '1-shot',
    k: 1,
    seed: 0,
    evalName: '1-shot-eval',
  });
  const splits = await client.call('splits.list', { datasetId: 1 });
  trainSplit = splits.find((s) => s.name === '1-shot')!.id;
  evalSplit = splits.find((s) => s.name === '1-shot-eval')!.id;
});
afterAll(async () => {
  client?.close();
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

const lastState = (runId: number) => states.filter((s) => s.runId === runId).at(-1)?.state;
const listed = async (runId: number): Promise<RunSummary> =>
  (await client.call('runs.list', {})).find((r) => r.id === runId)!;
const grpo = {
  dataset: 'shapes',
  split: '1-shot',
  evalSplit: '1-shot-eval',
  model,
  steps: 12,
  promptsPerStep: 1,
  numGenerations: 2,
  maxCompletionLength: 8,
  checkpointEvery: 6,
};

describe('the Train view through the contract', { timeout: 180_000 }, () => {
  let grpoRun: number;

  it('lists a named run with its data, model, times, figures and warnings, all from the store', async () => {
    ({ runId: grpoRun } = await client.call('runs.start', {
      method: 'grpo',
      config: grpo,
      name: 'first try',
    }));
    await expect.poll(() => lastState(grpoRun), { timeout: 90_000 }).toBe('completed');
    // A new host (a reload of the app, a restart) lists the same: nothing lived only in a window.
    client.close();
    await host.close();
    await startHostHere();
    const run = await listed(grpoRun);
    expect(run).toMatchObject({
      name: 'first try',
      kind: 'grpo',
      task: 'detection',
      status: 'completed',
      datasetName: 'shapes',
      splitName: '1-shot',
      modelPath: model,
      modelName: 'model',
      steps: 12,
      lastStep: 12,
    });
    expect(run.startedAt).toBeGreaterThanOrEqual(run.createdAt);
    expect(run.finishedAt).toBeGreaterThanOrEqual(run.startedAt!);
    expect(Object.keys(run.latest)).toEqual(expect.arrayContaining(['reward', 'loss', 'kl']));
    expect(Object.keys(run.latest).some((k) => k.startsWith('time/') || k.startsWith('warnings/'))).toBe(
      false,
    );
    // The untrained policy earns no reward spread: warned at step 10, and the warning is kept.
    expect(run.warnings).toEqual([
      { kind: 'zero-std', step: 10, message: expect.stringMatching(/^step 10: over 90% of groups/) },
    ]);
    await client.call('runs.rename', { id: grpoRun, name: '  renamed  ' });
    expect((await listed(grpoRun)).name).toBe('renamed');
    await expect(client.call('runs.rename', { id: 999, name: 'x' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('gives charts each metric aligned on the logged steps, with when each was logged', async () => {
    const series = (
      await client.call('runs.series', { ids: [grpoRun], keys: ['reward', 'warnings/zero-std'] })
    )[String(grpoRun)]!;
    expect(series.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(series.times.every((t) => typeof t === 'number' && t > 0)).toBe(true);
    expect(Object.keys(series.values).sort()).toEqual(['reward', 'warnings/zero-std']);
    expect(series.values.reward).toHaveLength(12);
    // Logged only at step 10: null elsewhere, so the chart leaves gaps rather than inventing zeros.
    expect(series.values['warnings/zero-std']!.map((v, i) => (v === null ? null : i + 1))).toEqual([
      ...Array(9).fill(null),
      10,
      null,
      null,
    ]);
  });

  it("evaluates a run's final model and one of its checkpoints on a split, with progress kept", async () => {
    const { runId: final } = await client.call('runs.evaluate', { id: grpoRun, splitId: evalSplit });
    const { runId: atStep } = await client.call('runs.evaluate', {
      id: grpoRun,
      splitId: evalSplit,
      checkpointStep: 6,
    });
    await expect.poll(() => lastState(final), { timeout: 60_000 }).toBe('completed');
    await expect.poll(() => lastState(atStep), { timeout: 60_000 }).toBe('completed');
    const evaluation = await listed(final);
    expect(evaluation).toMatchObject({
      kind: 'eval',
      parentRunId: grpoRun,
      splitName: '1-shot-eval',
      name: 'renamed on 1-shot-eval',
    });
    // How many answers it gave, and of how many, survive without the live events.
    expect(evaluation.steps).toBeGreaterThan(0);
    expect(evaluation.lastStep).toBe(evaluation.steps);
    expect(evaluation.evaluation).toMatchObject({
      runId: final,
      figureName: 'AP50',
      splitName: '1-shot-eval',
    });
    const checkpoint = await listed(atStep);
    expect(checkpoint.modelName).toBe('model @ step-000006');
    expect(checkpoint.name).toBe('renamed @ step 6 on 1-shot-eval');
    // The training run shows its newest evaluation (the two ran at once: whichever saved last).
    expect([final, atStep]).toContain((await listed(grpoRun)).evaluation?.runId);
    await expect(
      client.call('runs.evaluate', { id: grpoRun, splitId: evalSplit, checkpointStep: 5 }),
    ).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/no checkpoint at step 5/) });
    await expect(client.call('runs.evaluate', { id: final })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  it("offers the built-in model, the workspace's model folders and finished runs' models", async () => {
    const models = await client.call('models.list', {});
    expect(models[0]).toMatchObject({ source: 'built-in', kind: 'tiny-vlm' });
    expect(models[0]!.path).toMatch(/resources[\\/]models[\\/]tiny-vlm-base$/);
    expect(models).toContainEqual(expect.objectContaining({ source: 'run', runId: grpoRun }));
    expect(models).toContainEqual(expect.objectContaining({ source: 'workspace', path: model }));
  });

  it("shows each method's defaults", async () => {
    const defaults = await client.call('runs.defaults', { method: 'grpo' });
    expect(defaults).toMatchObject({ numGenerations: 8, beta: 0.04, temperature: 1, steps: 200 });
    expect(defaults).not.toHaveProperty('dataset');
    expect(await client.call('runs.defaults', { method: 'sft' })).toMatchObject({ batchSize: 4 });
  });

  it('runs an experiment: base, SFT and RFT on one split with one budget, each evaluated', async () => {
    const { experimentId } = await client.call('experiments.start', {
      splitId: trainSplit,
      model,
      steps: 2,
      name: 'tiny experiment',
    });
    await expect
      .poll(() => experimentStates.filter((e) => e.experimentId === experimentId).at(-1)?.status, {
        timeout: 150_000,
      })
      .toBe('completed');
    const phases = experimentStates.filter((e) => e.experimentId === experimentId).map((e) => e.phase);
    expect(phases).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^evaluating base \(run \d+\)$/),
        expect.stringMatching(/^training SFT \(run \d+\)$/),
        expect.stringMatching(/^training RFT \(run \d+\)$/),
        'done',
      ]),
    );
    const [experiment] = (await client.call('experiments.list', {})).filter((e) => e.id === experimentId);
    expect(experiment).toMatchObject({
      name: 'tiny experiment',
      datasetName: 'shapes',
      trainSplit: '1-shot',
      evalSplit: '1-shot-eval',
      steps: 2,
      status: 'completed',
    });
    const runs = await client.call('runs.list', {});
    const byId = (id: number | null) => runs.find((r) => r.id === id)!;
    expect(byId(experiment!.runs.base)).toMatchObject({
      kind: 'eval',
      experimentId,
      name: `E${experimentId} base`,
    });
    expect(byId(experiment!.runs.sft)).toMatchObject({
      kind: 'sft',
      experimentId,
      steps: 2,
      status: 'completed',
    });
    expect(byId(experiment!.runs.rft)).toMatchObject({
      kind: 'grpo',
      experimentId,
      steps: 2,
      status: 'completed',
    });
    for (const role of ['sft', 'rft'] as const)
      expect(byId(experiment!.runs[role]).evaluation?.splitName).toBe('1-shot-eval');
  });

  it('refuses an experiment it cannot run before starting anything', async () => {
    await expect(
      client.call('experiments.start', { splitId: evalSplit, model, steps: 2 }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/no "1-shot-eval-eval" evaluation split/) });
    await expect(client.call('experiments.cancel', { id: 999 })).rejects.toMatchObject({ code: 'conflict' });
  });
});
