/**
 * A Qwen folder in the Train view, in Chromium against a real `vrft serve`: typing the tiny
 * Qwen2-VL checkpoint shows its kind and the Qwen settings (LoRA on, vision tower frozen), a GRPO
 * run with LoRA r 4 trains on it to completion, and a folder that is not a model says why before Start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { TrainPage } from './pages/TrainPage';
import { shapesWorkspaceWithSplit } from '../support/workspace';

const qwen = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
let browser: Browser;
let host: ServedHost;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-qwen-'));
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

async function openTrainView() {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = pageErrors(page);
  const train = new TrainPage(page);
  await train.shell.open(host.url);
  await train.open();
  return { page, train, errors };
}

describe('a Qwen folder in the Train view', () => {
  it('shows its kind and the Qwen settings, and a GRPO run with LoRA trains on it', async () => {
    const { page, train, errors } = await openTrainView();
    // The built-in model is picked at first: no Qwen settings.
    await train.modelInfo.waitFor();
    expect(await train.modelInfo.getAttribute('data-kind')).toBe('tiny-vlm');
    expect(await train.qwenSettings.count()).toBe(0);

    await train.pickModel(qwen);
    expect(await train.modelInfo.getAttribute('data-kind')).toBe('qwen2-vl');
    expect(await train.modelInfo.textContent()).toContain('Qwen2-VL · 2 layers · hidden 64');
    await train.qwenSettings.waitFor();
    expect(await train.setting('lora').isChecked()).toBe(true);
    expect(await train.setting('freezeVisionTower').isChecked()).toBe(true);
    expect(await train.setting('gradientCheckpointing').isChecked()).toBe(false);
    expect(await train.setting('lora.r').getAttribute('placeholder')).toBe('8');
    expect(await train.setting('lora.lora_alpha').getAttribute('placeholder')).toBe('8');
    expect(await train.setting('lora.lora_dropout').getAttribute('placeholder')).toBe('0');
    // LoRA off: its fields are disabled (every weight trains).
    await train.setting('lora').uncheck();
    expect(await train.setting('lora.r').isDisabled()).toBe(true);
    await train.setting('lora').check();

    await train.start('GRPO', {
      dataset: 'shapes',
      split: '1-shot',
      model: qwen,
      steps: 1,
      promptsPerStep: 1,
      numGenerations: 2,
      maxCompletionLength: 8,
      'lora.r': 4,
    });
    await train.row(1).waitFor();
    await train.waitForStatus(1, 'completed', 120_000);
    expect(await train.row(1).getByTestId('run-progress').textContent()).toMatch(/^1\/1/);

    // The run trained LoRA adapters of rank 4: its model is an adapter folder over the checkpoint.
    await train.pickModel(path.join(data, 'runs', '1', 'model'));
    expect(await train.modelInfo.textContent()).toContain('Qwen2-VL · 2 layers · hidden 64 · LoRA r 4');
    // And the workspace now offers the Qwen folder it used.
    const offered = await train.form
      .locator('#known-models option')
      .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(offered).toContain(qwen);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it('says why a folder is not a model before Start, and Start waits for a model', async () => {
    const { page, train } = await openTrainView();
    await train.pickModel(data);
    expect(await train.modelError.textContent()).toContain(
      `${data} is not a model folder: it has no config.json`,
    );
    expect(await train.qwenSettings.count()).toBe(0);
    expect(await train.form.getByRole('button', { name: 'Start GRPO run' }).isDisabled()).toBe(true);
    await train.pickModel(qwen);
    expect(await train.modelError.count()).toBe(0);
    expect(await train.form.getByRole('button', { name: 'Start GRPO run' }).isDisabled()).toBe(false);
    await page.close();
  });
});
