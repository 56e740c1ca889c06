import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { listDatasets } from '../../src/main/store/datasets';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { ComparePage } from './pages/ComparePage';
import { DatasetsPage } from './pages/DatasetsPage';
import { TracesPage } from './pages/TracesPage';

let browser: Browser;
let host: ServedHost;
let context: BrowserContext;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  host = await serveHost();
  context = await browser.newContext();
  page = await context.newPage();
  errors = pageErrors(page);
});
afterEach(async () => {
  await context?.close();
  await host?.stop();
});

describe('browser mode', () => {
  it('creates a dataset that survives a reload, and it is in the SQLite file', async () => {
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    await expect.poll(() => page.getByTestId('empty').isVisible()).toBe(true);

    await datasets.create('shapes-4shot', 'ShapeWorld novel categories');
    await datasets.row('shapes-4shot').waitFor();
    await page.reload();
    await datasets.shell.waitConnected();
    await datasets.row('shapes-4shot').waitFor();
    expect(await datasets.names()).toEqual(['shapes-4shot']);
    expect(await datasets.counts('shapes-4shot').images.textContent()).toBe('0');

    const db = openStore(workspaceDbPath(host.dataDir));
    try {
      expect(listDatasets(db).map((d) => [d.name, d.description])).toEqual([
        ['shapes-4shot', 'ShapeWorld novel categories'],
      ]);
    } finally {
      db.close();
    }
    expect(errors).toEqual([]);
  });

  it('renames, refuses a duplicate name with a message, and deletes only after confirmation', async () => {
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    await datasets.create('birds');
    await datasets.row('birds').waitFor();
    await datasets.create('cars');
    await datasets.row('cars').waitFor();

    await datasets.rename('birds', 'aircraft');
    expect(await datasets.names()).toEqual(['aircraft', 'cars']);

    await datasets.create('cars');
    await expect.poll(() => datasets.error.textContent()).toContain('already exists');

    await datasets.delete('cars', { confirm: false });
    expect(await datasets.names()).toEqual(['aircraft', 'cars']);
    await datasets.delete('cars', { confirm: true });
    await datasets.row('cars').waitFor({ state: 'detached' });
    expect(await datasets.names()).toEqual(['aircraft']);
  });

  it('shows the connection and the tensor backend in the status bar', async () => {
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    expect(await datasets.shell.connection.textContent()).toBe('Connected');
    // The host finds the backend after it is up: wasm on a machine without tfjs-node(-gpu).
    await expect
      .poll(() => datasets.shell.backend.textContent(), { timeout: 10_000 })
      // "wasm + native avx512f (9 of 10 kinds)" where the load-time check left some work on wasm.
      .toMatch(/^backend: (wasm( \+ native \w+( \(\d+ of \d+ kinds\))?)?|cpu|tfjs-node|tfjs-node-gpu)$/);
  });

  it('Compare, in a workspace without evaluated runs, says how to get one', async () => {
    const compare = new ComparePage(page);
    await compare.shell.open(host.url);
    await compare.open();
    expect(await page.getByTestId('pick-runs').textContent()).toMatch(/No evaluated run yet.*Train.*demo/s);
  });

  it('Traces, in a workspace without GRPO runs, says to start one in Train', async () => {
    const traces = new TracesPage(page);
    await traces.shell.open(host.url);
    await traces.open();
    expect(await traces.empty.textContent()).toMatch(/No GRPO runs yet.*Start one in Train/s);
    await traces.empty.getByRole('link', { name: 'Train' }).click();
    await page.waitForURL(/#\/train$/);
    await page.goBack();
    await page.reload();
    await page.getByRole('heading', { name: 'Traces' }).waitFor();
  });

  it('refuses the same URL without the token', async () => {
    const response = await page.goto(`${host.origin}/`);
    expect(response?.status()).toBe(401);
    expect(await page.textContent('body')).toContain('token');
    const wrong = await page.goto(`${host.origin}/?token=not-the-token`);
    expect(wrong?.status()).toBe(401);
  });

  it('runs under a CSP that blocks inline script', async () => {
    await new DatasetsPage(page).open(host.url);
    await expect(page.addScriptTag({ content: 'window.injected = true' })).rejects.toThrow();
    expect(await page.evaluate(() => (globalThis as { injected?: boolean }).injected)).toBeUndefined();
  });

  it('says so when the engine stops answering but keeps its socket open, and when it is back', async () => {
    const beating = await serveHost(undefined, { VRFT_ALIVE_MS: '200' });
    try {
      const datasets = new DatasetsPage(page);
      await datasets.open(beating.url);
      // A stopped process (as a blocked event loop or a frozen machine would) keeps the socket open.
      beating.child.kill('SIGSTOP');
      const silent = page.locator('[data-testid="connection"][data-state="silent"]');
      await silent.waitFor();
      expect(await silent.textContent()).toBe('Engine not answering…');
      expect(await silent.getAttribute('title')).toMatch(/may be busy .* or stopped/);
      beating.child.kill('SIGCONT');
      await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    } finally {
      beating.child.kill('SIGCONT');
      await beating.stop();
    }
  });

  it('shows a lost engine in the status bar, and the next engine has the data', async () => {
    const datasets = new DatasetsPage(page);
    const dataDir = host.dataDir;
    await datasets.open(host.url);
    await datasets.create('kept');
    await datasets.row('kept').waitFor();
    host.child.kill('SIGTERM');
    await page.locator('[data-testid="connection"][data-state="reconnecting"]').waitFor();
    expect(await datasets.shell.connection.textContent()).toBe('Reconnecting…');
    // A new host has a new token and port: the user opens its URL.
    const next = await serveHost(dataDir);
    try {
      await datasets.open(next.url);
      expect(await datasets.names()).toEqual(['kept']);
    } finally {
      await next.stop();
    }
  });
});
