import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { TrainPage } from './pages/TrainPage';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace } from '../support/workspace';

let browser: Browser;
let host: ServedHost;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-train-'));
const model = path.join(dir, 'model');

beforeAll(async () => {
  saveTinyModel(model);
  const data = path.join(dir, 'data');
  shapesWorkspace(data);
  host = await serveHost(data);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A new page on the Train view, with the page errors it collects. */
async function openTrainView() {
  const page = await browser.newPage();
  const errors = pageErrors(page);
  const train = new TrainPage(page);
  await train.shell.open(host.url);
  await train.open();
  return { page, train, errors };
}

describe('Train view', () => {
  it('starts a run, shows its progress live, and it completes', async () => {
    const { page, train, errors } = await openTrainView();
    await train.start('SFT', {
      dataset: 'shapes',
      model,
      steps: 40,
      batchSize: 2,
      learningRate: 0.003,
      checkpointEvery: 10,
    });
    await train.row(1).waitFor();
    await train.waitForStatus(1, 'completed');
    expect(await train.row(1).getByTestId('run-progress').textContent()).toMatch(/^40\/40/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a GRPO run's training warnings under the run", async () => {
    const { page, train, errors } = await openTrainView();
    // An untrained policy never earns a reward: the groups' rewards stay equal, so it warns at step 10.
    const config = { dataset: 'shapes', model, steps: 12, promptsPerStep: 1, numGenerations: 2 };
    await train.start('GRPO', { ...config, maxCompletionLength: 8, checkpointEvery: 12 });
    await train.row(2).waitFor();
    await train.waitForStatus(2, 'completed');
    await expect
      .poll(() => train.row(2).getByTestId('run-warning').allTextContents())
      .toEqual([expect.stringMatching(/^⚠ step 10: over 90% of groups had identical rewards for 10 steps/)]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says what is wrong with a bad config, naming the nearest key', async () => {
    const { page, train } = await openTrainView();
    await train.start('GRPO', { dataset: 'shapes', model, steps: 5, numGeneration: 4 });
    await expect
      .poll(() => train.error.textContent())
      .toMatch(/unknown key "numGeneration" \(did you mean "numGenerations"\?\)/);
    await page.close();
  });
});
