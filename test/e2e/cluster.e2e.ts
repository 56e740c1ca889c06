/**
 * "Run on a cluster" in the Train view, in Chromium against a real `vrft serve`: the action waits
 * for a Qwen folder (tiny-vlm says why), the dialog refuses a folder that is not empty with the
 * export's message, exports the run with its settings and shows the commands to launch it; the run
 * is listed as a TRL run whose reward server listens in vrft, turns running when TRL's first round
 * arrives (no reload), cannot be paused here, and its reward server stops and listens again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { ClusterDialogPage } from './pages/ClusterDialogPage';
import { TrainPage } from './pages/TrainPage';
import { shapesWorkspaceWithSplit } from '../support/workspace';

const qwen = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
let browser: Browser;
let host: ServedHost;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-cluster-'));
const data = path.join(dir, 'data');

beforeAll(async () => {
  shapesWorkspaceWithSplit(data);
  host = await serveHost(data);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Run on a cluster', () => {
  it('exports a GRPO run of a Qwen folder, shows the commands, and the run fills in live', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = pageErrors(page);
    const train = new TrainPage(page);
    const cluster = new ClusterDialogPage(page);
    await train.shell.open(host.url);
    await train.open();
    const action = train.form.getByTestId('run-on-cluster');

    // The built-in tiny-vlm is picked at first: TRL cannot train it.
    await train.modelInfo.waitFor();
    expect(await action.isDisabled()).toBe(true);
    expect(await train.form.getByTestId('cluster-hint').textContent()).toContain(
      'TRL trains Hugging Face models: pick a Qwen2-VL / Qwen2.5-VL folder',
    );
    // SFT has no cluster action.
    await train.form.getByRole('radio', { name: 'SFT', exact: true }).click();
    expect(await action.count()).toBe(0);
    await train.form.getByRole('radio', { name: 'GRPO', exact: true }).click();

    await train.pickModel(qwen);
    expect(await action.isDisabled()).toBe(false);
    expect(await train.form.getByTestId('cluster-hint').count()).toBe(0);
    await train.setting('promptsPerStep').fill('2');
    await train.setting('numGenerations').fill('2');
    await train.setting('steps').fill('3');
    await train.form.getByTestId('run-name').fill('qwen on a cluster');

    await action.click();
    await cluster.dialog.waitFor();
    // A folder that is not empty: the export's own message, and nothing is exported.
    await cluster.export({ out: data });
    expect(await cluster.error.textContent()).toContain(`${data} is not empty: name a new or empty folder`);

    const out = path.join(dir, 'trl-project');
    await cluster.export({ out, gpus: 2, deepspeed: 'zero2', vllm: true });
    expect(await cluster.exported.textContent()).toContain(out);
    const url = (await cluster.url.textContent())!;
    const port = new URL(url).port;
    expect(await cluster.commandText('tunnel')).toBe(`ssh -N -R ${port}:127.0.0.1:${port} you@cluster-node`);
    expect(await cluster.commandText('install')).toBe('pip install -r requirements.txt');
    const reward = JSON.parse(readFileSync(path.join(out, 'reward.json'), 'utf8')) as {
      url: string;
      token: string;
    };
    expect(await cluster.commandText('launch')).toBe(
      reward.url === url ? `cd ${out} && ./launch.sh` : `cd ${out} && VRFT_REWARD_URL=${url} ./launch.sh`,
    );
    expect(await cluster.commandText('server')).toBe(
      `vrft reward-server --run 1 --data ${data} --port ${reward.url.split(':').at(-1)}`,
    );
    expect(readFileSync(path.join(out, 'accelerate.yaml'), 'utf8')).toMatch(/num_processes: 2/);
    // Copy puts it on the clipboard, or selects it where the page may not write there.
    await cluster.command('tunnel').getByRole('button').click();
    await expect
      .poll(() => cluster.command('tunnel').getByRole('button').textContent())
      .toMatch(/^(Copied|Ctrl\+C)$/);
    await cluster.done();

    // The run is listed as a TRL run on 2 GPUs, queued, its reward server listening here.
    const row = train.row(1);
    await train.waitForStatus(1, 'queued');
    expect(await row.getByTestId('run-name').textContent()).toBe('qwen on a cluster');
    expect(await row.getByTestId('run-trl').textContent()).toBe('TRL');
    expect(await row.textContent()).toContain('on a cluster · 2 GPUs · ZeRO-2 · vLLM');
    const server = row.getByTestId('reward-server');
    expect(await server.getAttribute('data-listening')).toBe('yes');

    // TRL's first round (promptsPerStep 2 × G 2) reaches the server: the row turns running by itself.
    const sampleIds = readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { sample_id: string }).sample_id);
    const items = sampleIds.slice(0, 2).flatMap((sample_id) => [
      { sample_id, completion: '<think>shapes</think><answer>[]</answer>', tokens: 6, truncated: false },
      { sample_id, completion: 'no idea', tokens: 2, truncated: false },
    ]);
    const post = (route: string, body: unknown) =>
      fetch(`${url}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${reward.token}` },
        body: JSON.stringify(body),
      });
    expect((await post('/v1/score', { step: 0, process: 0, processes: 1, items })).status).toBe(200);
    await train.waitForStatus(1, 'running', 15_000);
    await expect.poll(() => row.getByTestId('run-progress').textContent()).toMatch(/^1\/3/);
    // Then TRL's log of that step: its figures show in the row.
    expect((await post('/v1/log', { step: 1, logs: { reward: 0.5, loss: 0.125 } })).status).toBe(200);
    await expect.poll(() => row.getByTestId('run-latest').textContent()).toMatch(/reward 0\.5\s*loss 0\.125/);
    // Trained elsewhere: not paused from here (Cancel stops recording it); its rollouts are in Traces.
    for (const name of ['Pause', 'Resume'])
      expect(await row.getByRole('button', { name, exact: true }).count()).toBe(0);
    expect(await row.getByRole('button', { name: 'Cancel', exact: true }).getAttribute('title')).toMatch(
      /Stop recording this run/,
    );
    expect(await row.getByRole('link', { name: 'Traces' }).count()).toBe(1);

    // Stop, then Listen again.
    await server.getByRole('button', { name: 'Stop' }).click();
    await page.locator('[data-testid="reward-server"][data-listening="no"]').waitFor();
    await expect(fetch(`${url}/v1/health`)).rejects.toThrow();
    await server.getByRole('button', { name: 'Listen' }).click();
    await page.locator('[data-testid="reward-server"][data-listening="yes"]').waitFor();
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
