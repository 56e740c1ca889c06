import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/shared/client';
import type { EventPayload } from '../../src/shared/contract';
import type { RunningHost } from '../../src/main/host/index';
import { hostWithClient } from '../support/host';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-jobs-'));
const model = path.join(dir, 'model');
const data = path.join(dir, 'data');
let host: RunningHost;
let client: Client;
const states: EventPayload<'job.state'>[] = [];
const progress: EventPayload<'job.progress'>[] = [];
const warnings: EventPayload<'job.warning'>[] = [];

beforeAll(async () => {
  saveTinyModel(model);
  shapesWorkspace(data);
  ({ host, client } = await hostWithClient(data, dir));
  client.on('job.state', (s) => states.push(s));
  client.on('job.progress', (p) => progress.push(p));
  client.on('job.warning', (w) => warnings.push(w));
});
afterAll(async () => {
  client.close();
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

const sft = (steps: number) => ({
  dataset: 'shapes',
  model,
  steps,
  batchSize: 2,
  learningRate: 0.003,
  checkpointEvery: 5,
});
const lastState = (runId: number) => states.filter((s) => s.runId === runId).at(-1)?.state;

describe('jobs through the contract', { timeout: 120_000 }, () => {
  it('start → progress events → pause → resume → completed, every step logged once', async () => {
    const { runId } = await client.call('runs.start', { method: 'sft', config: sft(3000) });
    await expect
      .poll(() => progress.filter((p) => p.runId === runId).length, { timeout: 30_000 })
      .toBeGreaterThan(3);
    const first = progress.find((p) => p.runId === runId)!;
    expect(first).toMatchObject({ totalSteps: 3000 });
    expect(first.metrics).toHaveProperty('loss');
    await client.call('runs.pause', { id: runId });
    await expect.poll(() => lastState(runId), { timeout: 30_000 }).toBe('paused');
    const paused = (await client.call('runs.list', {})).find((r) => r.id === runId)!;
    expect(paused).toMatchObject({ status: 'paused', running: false, steps: 3000 });
    expect(paused.lastStep).toBeLessThan(3000);
    await client.call('runs.resume', { id: runId });
    await expect.poll(() => lastState(runId), { timeout: 60_000 }).toBe('completed');
    const series = await client.call('runs.metrics', { id: runId, keys: ['loss'] });
    expect(series.loss!.map((p) => p.step)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('a killed trainer leaves its run failed with what to do, and resume finishes it', async () => {
    const { runId } = await client.call('runs.start', { method: 'sft', config: sft(300) });
    await expect
      .poll(() => progress.filter((p) => p.runId === runId && p.step >= 6).length, { timeout: 30_000 })
      .toBeGreaterThan(0);
    // This run's trainer only: its command line names this test's data folder.
    const pid = spawnSync('pgrep', ['-f', `trainer.js --run ${runId} --data ${data}`], { encoding: 'utf8' })
      .stdout.trim()
      .split(/\n/)[0];
    process.kill(Number(pid), 'SIGKILL');
    await expect.poll(() => lastState(runId), { timeout: 30_000 }).toBe('failed');
    expect(states.filter((s) => s.runId === runId).at(-1)?.error).toMatch(
      /killed \(SIGKILL\)\. If you did not kill it, the system ran out of memory .*continues from its last checkpoint/,
    );
    await client.call('runs.resume', { id: runId });
    await expect.poll(() => lastState(runId), { timeout: 60_000 }).toBe('completed');
  });

  it("streams a GRPO run's warnings as job.warning events and flags them in its metrics", async () => {
    // An untrained policy never earns a reward: every group's rewards are equal, step after step.
    const { batchSize: _, ...common } = sft(12);
    const config = { ...common, promptsPerStep: 1, numGenerations: 2, maxCompletionLength: 8 };
    const { runId } = await client.call('runs.start', { method: 'grpo', config });
    await expect.poll(() => lastState(runId), { timeout: 60_000 }).toBe('completed');
    expect(warnings.filter((w) => w.runId === runId)).toEqual([
      {
        runId,
        kind: 'zero-std',
        message: expect.stringMatching(/^step 10: over 90% of groups had identical rewards for 10 steps/),
      },
    ]);
    const series = await client.call('runs.metrics', { id: runId, keys: ['warnings/zero-std'] });
    expect(series['warnings/zero-std']).toEqual([{ step: 10, value: 1 }]);
  });

  it('cancels a paused run; refuses bad configs with the nearest valid key', async () => {
    const { runId } = await client.call('runs.start', { method: 'sft', config: sft(100_000) });
    await expect.poll(() => lastState(runId), { timeout: 30_000 }).toBe('running');
    await client.call('runs.pause', { id: runId });
    await expect.poll(() => lastState(runId), { timeout: 30_000 }).toBe('paused');
    await client.call('runs.cancel', { id: runId });
    expect(lastState(runId)).toBe('cancelled');
    await expect(client.call('runs.resume', { id: runId })).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      client.call('runs.start', { method: 'grpo', config: { ...sft(5), numGeneration: 4 } }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/unknown key "numGeneration" \(did you mean "numGenerations"\?\)/),
    });
    await expect(client.call('runs.pause', { id: 999 })).rejects.toMatchObject({ code: 'not_found' });
  });
});
