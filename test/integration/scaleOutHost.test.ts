/**
 * "Run on a cluster" through the host's contract: the Train form's GRPO config of the tiny Qwen2-VL
 * exported as a TRL project, its reward server started in the host; what TRL would post (a whole
 * scored round, a log entry) lands in the run, which turns running and tells clients; a taken port
 * moves the server and the launch command names it; Listen / Stop, a cancelled run and a host that
 * closes stop serving; a full folder, tiny-vlm and a bad config come back as the export's messages.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/shared/client';
import type { CallOutput, EventPayload } from '../../src/shared/contract';
import { defaultRewardPort } from '../../src/main/scaleOut/plan';
import type { RunningHost } from '../../src/main/host/index';
import { hostWithClient } from '../support/host';
import { shapesWorkspace } from '../support/workspace';

const qwen = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-scale-out-host-'));
const data = path.join(dir, 'data');
let host: RunningHost;
let client: Client;
const states: EventPayload<'job.state'>[] = [];

async function startHostHere(): Promise<void> {
  ({ host, client } = await hostWithClient(data, dir));
  client.on('job.state', (s) => states.push(s));
}

beforeAll(async () => {
  shapesWorkspace(data, 6);
  await startHostHere();
}, 120_000);
afterAll(async () => {
  client?.close();
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the Train form sends for a GRPO run of a Qwen folder with LoRA (RunForm's config()). */
const form = {
  task: 'detection',
  dataset: 'shapes',
  model: qwen,
  steps: 2,
  promptsPerStep: 2,
  numGenerations: 2,
  maxCompletionLength: 8,
  lora: { r: 2 },
  freezeVisionTower: true,
  gradientCheckpointing: false,
};

const listed = async (runId: number) => (await client.call('runs.list', {})).find((r) => r.id === runId)!;

/** Posts to a reward server as the exported project's vrft_trl.py does. */
async function post(url: string, token: string, route: string, body: unknown) {
  const res = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const project = (out: string) => ({
  reward: JSON.parse(readFileSync(path.join(out, 'reward.json'), 'utf8')) as { url: string; token: string },
  sampleIds: readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { sample_id: string }).sample_id),
});

/** Listens on loopback `port` (nothing else may while it does); false where something already is. */
function occupy(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('Run on a cluster through the host', { timeout: 120_000 }, () => {
  let exported: CallOutput<'scaleOut.export'>;
  const out = path.join(dir, 'project');

  it('exports the Train form’s GRPO run, lists it as a TRL run and serves its rewards', async () => {
    exported = await client.call('scaleOut.export', { config: form, name: 'on the cluster', out, gpus: 2 });
    const port = new URL(exported.url).port;
    expect(exported).toMatchObject({
      runId: 1,
      out,
      url: `http://127.0.0.1:${port}`,
      commands: {
        launch: `cd ${out} && ./launch.sh`,
        server: expect.stringMatching(/^vrft reward-server --run 1 --data \S+ --port \d+$/),
        tunnel: `ssh -N -R ${port}:127.0.0.1:${port} you@cluster-node`,
      },
    });
    expect(exported.samples).toBeGreaterThan(0);
    // The project names the server where it listens, and a port from the CLI's default on.
    expect(project(out).reward.url).toBe(exported.url);
    expect(Number(port)).toBeGreaterThanOrEqual(defaultRewardPort);
    expect(readFileSync(path.join(out, 'accelerate.yaml'), 'utf8')).toMatch(/num_processes: 2/);

    expect(await listed(1)).toMatchObject({
      name: 'on the cluster',
      kind: 'grpo',
      status: 'queued',
      datasetName: 'shapes',
      modelPath: qwen,
      steps: 2,
      scaleOut: { engine: 'trl', project: out, gpus: 2, deepspeed: 'none', vllm: false },
    });
    expect(await client.call('scaleOut.listening', {})).toEqual([
      { runId: 1, url: exported.url, projectUrl: exported.url, rollouts: 0 },
    ]);
    // A local run is not a cluster run.
    const health = await fetch(`${exported.url}/v1/health`, {
      headers: { Authorization: `Bearer ${project(out).reward.token}` },
    });
    expect(await health.json()).toMatchObject({ run: 1, rollouts: 0 });
  });

  it('records a scored round and TRL’s log into the run, which turns running and tells clients', async () => {
    const { reward, sampleIds } = project(out);
    // One generation round: promptsPerStep prompts × G completions, as 2 processes post them.
    const items = sampleIds.slice(0, form.promptsPerStep).flatMap((sample_id) =>
      Array.from({ length: form.numGenerations }, (_, g) => ({
        sample_id,
        completion: g === 0 ? '<think>a shape</think><answer>[]</answer>' : 'no answer',
        tokens: 5 + g,
        truncated: g === 1,
      })),
    );
    const half = items.length / 2;
    for (const [index, part] of [items.slice(0, half), items.slice(half)].entries()) {
      const scored = await post(reward.url, reward.token, '/v1/score', {
        step: 0,
        process: index,
        processes: 2,
        items: part,
      });
      expect(scored.status).toBe(200);
      expect(scored.body.total).toHaveLength(half);
    }
    // Recorded once the server's record worker has written the round.
    await expect
      .poll(async () => (await client.call('scaleOut.listening', {}))[0]!.rollouts)
      .toBe(items.length);
    await expect.poll(() => states.some((s) => s.runId === 1 && s.state === 'running')).toBe(true);
    const run = await listed(1);
    expect(run.status).toBe('running');
    expect(run.lastStep).toBe(1);
    const steps = await client.call('traces.steps', { runId: 1 });
    expect(steps.steps).toMatchObject([{ step: 1, prompts: form.promptsPerStep, rollouts: items.length }]);
    const group = await client.call('traces.group', { runId: 1, step: 1, promptKey: sampleIds[0]! });
    expect(group.rollouts.map((r) => r.completion)).toEqual([items[0]!.completion, items[1]!.completion]);

    // TRL's log of that step reaches the curves, and clients are told to read them again.
    const told = states.length;
    expect(
      (await post(reward.url, reward.token, '/v1/log', { step: 1, logs: { loss: 0.25, kl: 0.01 } })).status,
    ).toBe(200);
    await expect.poll(() => states.slice(told).some((s) => s.runId === 1), { timeout: 10_000 }).toBe(true);
    const series = (await client.call('runs.series', { ids: [1], keys: ['loss'] }))['1']!;
    expect(series.values.loss).toEqual([0.25]);
  });

  it('refuses a full folder, tiny-vlm, a bad config and a relative folder with what to do', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [form, out, /is not empty: name a new or empty folder/],
      [
        { ...form, model: path.resolve('resources/models/tiny-vlm-base') },
        path.join(dir, 'tiny'),
        /tiny-vlm, which TRL cannot load/,
      ],
      [{ ...form, numGenerationz: 4 }, path.join(dir, 'typo'), /numGenerationz.*numGenerations/],
      [form, 'relative/folder', /"relative\/folder" is not a full path/],
    ];
    for (const [config, folder, message] of cases)
      await expect(client.call('scaleOut.export', { config, out: folder, gpus: 1 })).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(message),
      });
    await expect(
      client.call('scaleOut.export', { config: form, out: path.join(dir, 'x'), gpus: 0 }),
    ).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('gpus') });
    // Nothing half-made: no run beyond the first.
    expect((await client.call('runs.list', {})).map((r) => r.id)).toEqual([1]);
  });

  it('stops and listens again; a taken port moves the server, and the launch command names it', async () => {
    await client.call('scaleOut.stop', { runId: 1 });
    expect(await client.call('scaleOut.listening', {})).toEqual([]);
    await expect(fetch(`${exported.url}/v1/health`)).rejects.toThrow();

    const planned = Number(new URL(exported.url).port);
    const blocker = await occupy(planned);
    try {
      const again = await client.call('scaleOut.listen', { runId: 1 });
      expect(again.projectUrl).toBe(exported.url);
      if (blocker) expect(again.url).not.toBe(exported.url);
      const { reward, sampleIds } = project(out);
      const scored = await post(again.url, reward.token, '/v1/score', {
        step: 1,
        items: [0, 1].map(() => ({ sample_id: sampleIds[0]!, completion: 'x' })),
      });
      expect(scored.status).toBe(200);
      await expect
        .poll(() => client.call('scaleOut.listen', { runId: 1 }))
        .toMatchObject({ url: again.url, rollouts: 2 });
    } finally {
      blocker?.close();
    }

    // Every port a new export would try is taken: it still listens, and the launch names where.
    const blockers = await Promise.all(Array.from({ length: 20 }, (_, i) => occupy(defaultRewardPort + i)));
    try {
      const moved = await client.call('scaleOut.export', {
        config: form,
        out: path.join(dir, 'moved'),
        gpus: 1,
        deepspeed: 'zero3',
        vllm: true,
      });
      expect(project(moved.out).reward.url).not.toBe(moved.url);
      expect(moved.commands.launch).toBe(`cd ${moved.out} && VRFT_REWARD_URL=${moved.url} ./launch.sh`);
      const port = new URL(moved.url).port;
      expect(moved.commands.tunnel).toBe(`ssh -N -R ${port}:127.0.0.1:${port} you@cluster-node`);
      expect((await listed(moved.runId)).scaleOut).toMatchObject({ gpus: 1, deepspeed: 'zero3', vllm: true });

      // Cancelled before TRL launched: its server stops.
      await client.call('runs.cancel', { id: moved.runId });
      expect((await listed(moved.runId)).status).toBe('cancelled');
      await expect
        .poll(async () => (await client.call('scaleOut.listening', {})).map((l) => l.runId), {
          timeout: 10_000,
        })
        .toEqual([1]);
      await expect(client.call('scaleOut.listen', { runId: moved.runId })).rejects.toMatchObject({
        code: 'conflict',
      });
    } finally {
      for (const b of blockers) b?.close();
    }
    // A local run was never exported: nothing to serve.
    await expect(client.call('scaleOut.listen', { runId: 99 })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('closes its reward servers with the host; after a restart the run is listened to again', async () => {
    const { url } = (await client.call('scaleOut.listening', {}))[0]!;
    client.close();
    await host.close();
    await expect(fetch(`${url}/v1/health`)).rejects.toThrow();
    await startHostHere();
    expect(await client.call('scaleOut.listening', {})).toEqual([]);
    expect((await listed(1)).status).toBe('running');
    const again = await client.call('scaleOut.listen', { runId: 1 });
    const health = await fetch(`${again.url}/v1/health`, {
      headers: { Authorization: `Bearer ${project(out).reward.token}` },
    });
    expect(health.status).toBe(200);
  });

  it('cancels a running cluster run whose trainer went quiet: its server stops', async () => {
    expect((await listed(1)).status).toBe('running');
    await client.call('runs.cancel', { id: 1 });
    expect((await listed(1)).status).toBe('cancelled');
    await expect
      .poll(async () => (await client.call('scaleOut.listening', {})).map((l) => l.runId), {
        timeout: 10_000,
      })
      .toEqual([]);
  });
});
