/**
 * The app's Train view refuses every config `vrft train` refuses (issue 26): a bad config sent
 * through runs.start is an invalid_input envelope naming the key and what is wrong, and no run is
 * created (before, some of these made a run the trainer then failed). An experiment too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/shared/client';
import type { RunningHost } from '../../src/main/host/index';
import { hostWithClient } from '../support/host';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-run-config-'));
const model = path.join(dir, 'model');
const data = path.join(dir, 'data');
let host: RunningHost;
let client: Client;

beforeAll(async () => {
  saveTinyModel(model);
  shapesWorkspace(data);
  ({ host, client } = await hostWithClient(data, dir));
});
afterAll(async () => {
  client?.close();
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = { dataset: 'shapes', model, steps: 2 };

const badConfigs: { name: string; method: 'sft' | 'grpo'; config: object; message: RegExp }[] = [
  {
    name: 'an unknown reward',
    method: 'grpo',
    config: { ...base, rewards: { iuo: 1, format: 1 } },
    message: /config: Unknown reward "iuo" \(did you mean "iou"\?\)/,
  },
  {
    name: 'a reward that cannot score the task',
    method: 'grpo',
    config: { ...base, rewards: { rec_iou: 1, format: 1 } },
    message:
      /config: "rewards\.rec_iou": the rec_iou reward scores task "rec", not this run's task "detection"/,
  },
  {
    name: 'a box reward on a classification run',
    method: 'grpo',
    config: { ...base, task: 'classification', rewards: { iou: 1, format: 1 } },
    message: /config: "rewards\.iou": the iou reward scores task "detection" or "rec"/,
  },
  {
    name: 'task rec on a dataset without expressions',
    method: 'sft',
    config: { ...base, task: 'rec' },
    message: /config: No box of "shapes" has a referring expression/,
  },
  {
    name: 'an evaluation split that does not exist',
    method: 'grpo',
    config: { ...base, evalSplit: 'novell' },
    message: /config: "evalSplit": Dataset "shapes" has no split named "novell"/,
  },
  {
    name: 'a thinkTemplate placeholder with a typo',
    method: 'sft',
    config: { ...base, thinkTemplate: 'Find every {categroy}: {objects}' },
    message: /config: "thinkTemplate": \{categroy\} is not filled in \(did you mean \{category\}\?\)/,
  },
  {
    name: 'a negative learning rate',
    method: 'sft',
    config: { ...base, learningRate: -0.001 },
    message: /config: "learningRate": Too small: expected number to be >0/,
  },
  {
    name: 'a reward weight "NaN"',
    method: 'grpo',
    config: { ...base, rewards: { iou: 'NaN', format: 1 } },
    message: /config: "rewards\.iou": .*expected number/,
  },
  {
    name: 'steps 0',
    method: 'grpo',
    config: { ...base, steps: 0 },
    message: /config: "steps": Too small: expected number to be >=1/,
  },
];

describe('runs.start checks a config as vrft train does', { timeout: 120_000 }, () => {
  it.each(badConfigs)('refuses $name, and creates no run', async ({ method, config, message }) => {
    const before = (await client.call('runs.list', {})).length;
    await expect(
      client.call('runs.start', { method, config: config as Record<string, unknown> }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(message),
    });
    expect((await client.call('runs.list', {})).length).toBe(before);
  });

  it('refuses an experiment whose runs could not train, before any of its runs exists', async () => {
    await client.call('splits.createFewShot', {
      datasetId: 1,
      name: '1-shot',
      k: 1,
      seed: 0,
      evalName: '1-shot-eval',
    });
    const split = (await client.call('splits.list', { datasetId: 1 })).find((s) => s.name === '1-shot')!;
    const experiments = (await client.call('experiments.list', {})).length;
    const runs = (await client.call('runs.list', {})).length;
    await expect(
      client.call('experiments.start', { splitId: split.id, model, task: 'rec', steps: 2, seed: 0 }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/SFT settings: No box of "shapes" has a referring expression/),
    });
    expect((await client.call('experiments.list', {})).length).toBe(experiments);
    expect((await client.call('runs.list', {})).length).toBe(runs);
  });
});
