/**
 * A Qwen folder as a run's model, through the contract on a real workspace and a real trainer: the
 * Train view inspects it (kind, description, or why it is not a model), a GRPO run with LoRA on
 * the tiny Qwen2-VL checkpoint completes, and the workspace remembers the folder — listed with its
 * kind, most recently used first, and still listed (with the reason) once it is gone.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/shared/client';
import type { EventPayload } from '../../src/shared/contract';
import type { RunningHost } from '../../src/main/host/index';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { getModelByPath, rememberModel } from '../../src/main/store/models';
import { hostWithClient } from '../support/host';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace } from '../support/workspace';

const qwen = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
const qwen25 = path.resolve('test/fixtures/qwen/qwen2.5-vl/checkpoint');
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-qwen-models-'));
const tiny = path.join(dir, 'tiny');
const data = path.join(dir, 'data');
let host: RunningHost;
let client: Client;
const states: EventPayload<'job.state'>[] = [];
const lastState = (runId: number) => states.filter((s) => s.runId === runId).at(-1)?.state;

beforeAll(async () => {
  saveTinyModel(tiny);
  shapesWorkspace(data, 8);
  ({ host, client } = await hostWithClient(data, dir));
  client.on('job.state', (s) => states.push(s));
});
afterAll(async () => {
  client?.close();
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A copy of the Qwen fixture's config.json in a folder of its own, edited by `edit`. */
function folderWithConfig(name: string, edit: (config: Record<string, unknown>) => object): string {
  const folder = path.join(dir, name);
  mkdirSync(folder, { recursive: true });
  const config = JSON.parse(readFileSync(path.join(qwen, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(folder, 'config.json'), JSON.stringify(edit(config)));
  return folder;
}

describe('a Qwen folder as the model', { timeout: 120_000 }, () => {
  it('is inspected before a run: kind and description, or why it is not a model', async () => {
    expect(await client.call('models.inspect', { path: qwen })).toEqual({
      path: qwen,
      kind: 'qwen2-vl',
      description: 'Qwen2-VL · 2 layers · hidden 64',
    });
    expect(await client.call('models.inspect', { path: qwen25 })).toMatchObject({ kind: 'qwen2.5-vl' });
    expect(await client.call('models.inspect', { path: tiny })).toMatchObject({
      kind: 'tiny-vlm',
      description: expect.stringMatching(/^tiny-vlm · 1 layer · width 16/),
    });
    await expect(client.call('models.inspect', { path: data })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining(`${data} is not a model folder: it has no config.json`),
    });
    const llava = folderWithConfig('llava', (c) => ({ ...c, model_type: 'llava' }));
    await expect(client.call('models.inspect', { path: llava })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/model_type "llava" is not a model vrft can load; supported: qwen2_vl/),
    });
    const noWeights = folderWithConfig('no-weights', (c) => c);
    await expect(client.call('models.inspect', { path: noWeights })).rejects.toMatchObject({
      message: expect.stringContaining(`${noWeights} has no weights`),
    });
    await expect(client.call('models.inspect', { path: path.join(dir, 'nowhere') })).rejects.toMatchObject({
      code: 'not_found',
    });
    // A run on a folder that is not a model is refused before it exists.
    await expect(
      client.call('runs.start', {
        method: 'grpo',
        config: { dataset: 'shapes', model: noWeights, steps: 1 },
      }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    expect((await client.call('runs.list', {})).length).toBe(0);
  });

  it('trains a GRPO run with LoRA, and the workspace remembers the folder with its kind, config and weights sha', async () => {
    // The tiny folder first, so the Qwen folder is the more recently used one afterwards.
    await client.call('splits.createFewShot', {
      datasetId: 1,
      name: '1-shot',
      k: 1,
      seed: 0,
      evalName: 'eval',
    });
    const evalSplit = (await client.call('splits.list', { datasetId: 1 })).find((s) => s.name === 'eval')!;
    const { runId: evalRun } = await client.call('models.evaluate', { model: tiny, splitId: evalSplit.id });
    await expect.poll(() => lastState(evalRun), { timeout: 60_000 }).toBe('completed');

    const { runId } = await client.call('runs.start', {
      method: 'grpo',
      config: {
        dataset: 'shapes',
        model: qwen,
        steps: 1,
        promptsPerStep: 1,
        numGenerations: 2,
        maxCompletionLength: 8,
        lora: { r: 4 },
      },
    });
    await expect.poll(() => lastState(runId), { timeout: 90_000 }).toBe('completed');

    const db = openStore(workspaceDbPath(data));
    try {
      const row = getModelByPath(db, qwen)!;
      expect(row).toMatchObject({ kind: 'qwen2-vl', name: 'checkpoint', path: qwen });
      expect(row.config).toMatchObject({ model_type: 'qwen2_vl', hidden_size: 64 });
      expect(row.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(getModelByPath(db, tiny)).toMatchObject({ kind: 'tiny-vlm' });
    } finally {
      db.close();
    }

    const models = await client.call('models.list', {});
    expect(models[0]).toMatchObject({ source: 'built-in', kind: 'tiny-vlm', unavailable: null });
    const workspace = models.filter((m) => m.source === 'workspace');
    // Most recently used first.
    expect(workspace.map((m) => m.path)).toEqual([qwen, tiny]);
    expect(workspace[0]).toEqual({
      name: 'checkpoint',
      path: qwen,
      kind: 'qwen2-vl',
      description: 'Qwen2-VL · 2 layers · hidden 64',
      source: 'workspace',
      runId: null,
      unavailable: null,
    });
    // The run's own model: a PEFT adapter folder over the Qwen checkpoint.
    expect(models).toContainEqual(
      expect.objectContaining({
        source: 'run',
        runId,
        kind: 'qwen2-vl',
        description: 'Qwen2-VL · 2 layers · hidden 64 · LoRA r 4',
      }),
    );
  });

  it('lists a remembered folder that is gone as unavailable, with the reason', async () => {
    const moved = path.join(dir, 'moved');
    cpSync(qwen, moved, { recursive: true });
    const db = openStore(workspaceDbPath(data));
    try {
      rememberModel(db, {
        path: moved,
        kind: 'qwen2-vl',
        config: JSON.parse(readFileSync(path.join(qwen, 'config.json'), 'utf8')) as object,
      });
    } finally {
      db.close();
    }
    expect((await client.call('models.list', {})).find((m) => m.path === moved)).toMatchObject({
      unavailable: null,
    });
    rmSync(moved, { recursive: true });
    expect((await client.call('models.list', {})).find((m) => m.path === moved)).toEqual({
      name: 'moved',
      path: moved,
      kind: 'qwen2-vl',
      description: 'Qwen2-VL · 2 layers · hidden 64',
      source: 'workspace',
      runId: null,
      unavailable: 'The folder is no longer there.',
    });
  });
});
