import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { DatasetsPage } from './pages/DatasetsPage';
import { TrainPage } from './pages/TrainPage';

let browser: Browser;
let host: ServedHost;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-demo-'));

beforeAll(async () => {
  host = await serveHost(dir);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the first screen', () => {
  it('offers the demo on an empty workspace: it makes the data, runs with progress, and can be stopped', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = pageErrors(page);
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    await datasets.demo.waitFor();
    await datasets.tryDemo();
    // The ShapeWorld dataset and its split are made, and the base model's evaluation starts.
    await datasets.row('shapeworld-novel-demo-0').waitFor({ timeout: 60_000 });
    await expect
      .poll(() => page.getByTestId('demo-phase').textContent(), { timeout: 30_000 })
      .toMatch(/evaluating base \(run 1\)/);
    await page.getByTestId('demo-phase').locator('progress').waitFor({ timeout: 30_000 });
    // A reload finds the running demo again.
    await page.reload();
    await datasets.shell.waitConnected();
    await expect.poll(() => page.getByTestId('demo-phase').textContent()).toMatch(/evaluating base/);

    const train = new TrainPage(page);
    await train.open();
    await train.experiment(1).waitFor();
    expect(await train.experiment(1).getAttribute('data-status')).toBe('running');
    await train.stopExperiment(1);
    await page.locator('[data-testid="experiment"][data-experiment="1"][data-status="cancelled"]').waitFor({
      timeout: 30_000,
    });
    // Whichever of its runs was going is cancelled (the base evaluation, on a machine this slow).
    await page
      .locator('[data-testid="run-row"][data-status="cancelled"]')
      .first()
      .waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid="run-row"][data-status="running"]').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
