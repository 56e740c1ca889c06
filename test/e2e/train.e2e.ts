import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { TrainPage } from './pages/TrainPage';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspaceWithSplit } from '../support/workspace';

let browser: Browser;
let host: ServedHost;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-train-'));
const model = path.join(dir, 'model');

beforeAll(async () => {
  saveTinyModel(model);
  const data = path.join(dir, 'data');
  shapesWorkspaceWithSplit(data);
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
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = pageErrors(page);
  const train = new TrainPage(page);
  await train.shell.open(host.url);
  await train.open();
  return { page, train, errors };
}

describe('Train view', () => {
  it('starts a run from the form, shows its progress live, and it completes', async () => {
    const { page, train, errors } = await openTrainView();
    // The form shows each setting's default before anything is typed.
    expect(await train.defaultOf('numGenerations')).toBe('8');
    await train.form.getByRole('radio', { name: 'SFT', exact: true }).click();
    expect(await train.defaultOf('batchSize')).toBe('4');
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

  it("keeps each method's edits when switching between them", async () => {
    const { page, train } = await openTrainView();
    await train.form.getByRole('radio', { name: 'GRPO', exact: true }).click();
    await train.form.locator('input[data-setting="numGenerations"]').fill('4');
    await train.form.getByRole('radio', { name: 'SFT', exact: true }).click();
    await train.form.locator('input[data-setting="batchSize"]').fill('3');
    await train.form.getByRole('radio', { name: 'GRPO', exact: true }).click();
    expect(await train.form.locator('input[data-setting="numGenerations"]').inputValue()).toBe('4');
    await train.form.getByRole('radio', { name: 'SFT', exact: true }).click();
    expect(await train.form.locator('input[data-setting="batchSize"]').inputValue()).toBe('3');
    await page.close();
  });

  it("shows a GRPO run's warnings under the run, still there after a reload, each a link to its step's rollouts", async () => {
    const { page, train, errors } = await openTrainView();
    // An untrained policy never earns a reward: the groups' rewards stay equal, so it warns at step 10.
    const config = { dataset: 'shapes', model, steps: 12, promptsPerStep: 1, numGenerations: 2 };
    await train.start('GRPO', { ...config, maxCompletionLength: 8, checkpointEvery: 12 }, 'warned run');
    await train.row(2).waitFor();
    await train.waitForStatus(2, 'completed');
    const warning = /^⚠ step 10: over 90% of groups had identical rewards for 10 steps/;
    await expect
      .poll(() => train.row(2).getByTestId('run-warning').allTextContents())
      .toEqual([expect.stringMatching(warning)]);
    await page.reload();
    await train.shell.waitConnected();
    await train.row(2).waitFor();
    expect(await train.row(2).getByTestId('run-warning').allTextContents()).toEqual([
      expect.stringMatching(warning),
    ]);
    expect(await train.row(2).getByTestId('run-warning').getAttribute('href')).toBe('#/traces/2/10');
    expect(await train.row(2).getByTestId('run-name').textContent()).toBe('warned run');
    expect(await train.row(2).getByTestId('run-latest').textContent()).toMatch(/reward\s*0[\s\S]*loss/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('evaluates a run and a checkpoint from the list, with their progress and figures', async () => {
    const { page, train, errors } = await openTrainView();
    await train.evaluate(2, '1-shot-eval');
    await train.row(3).waitFor();
    await train.waitForStatus(3, 'completed');
    expect(await train.row(3).getByTestId('run-progress').textContent()).toMatch(/^(\d+)\/\1$/);
    await expect
      .poll(() => train.row(2).getByTestId('run-evaluation').textContent())
      .toMatch(/AP50 \d+\.\d on 1-shot-eval/);
    await train.evaluate(1, '1-shot-eval', 10);
    await train.waitForStatus(4, 'completed');
    expect(await train.row(4).getByTestId('run-name').textContent()).toBe('SFT 1 @ step 10 on 1-shot-eval');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws the curves of the ticked runs, one chart per metric, overlaid', async () => {
    const { page, train, errors } = await openTrainView();
    await train.chart(2);
    await train.chart(1);
    await train.chartOf('reward').waitFor();
    await train.chartOf('loss').locator('canvas').waitFor();
    // The loss chart holds both runs: SFT's 40 steps and GRPO's 12.
    expect(await train.chartOf('loss').getAttribute('data-points')).toBe('52');
    expect(await train.chartOf('reward').getAttribute('data-points')).toBe('12');
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
