/**
 * Trace replay in Chromium against `vrft serve`: two real (tiny, six-step) GRPO runs of the
 * built-in model, trained with `vrft train`; open a run, scrub to a step, open a group and check
 * every number its cards show against the workspace's SQLite file; follow a warning's link; put
 * the same prompt of the other run beside it; search the run and open a hit.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { TracesPage } from './pages/TracesPage';
import { shapesWorkspace, vrft } from '../support/workspace';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { addRunWarning } from '../../src/main/store/runs';

let browser: Browser;
let host: ServedHost;
let data: string;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-traces-'));

interface Row {
  sample_index: number;
  rewards: string;
  reward: number;
  advantage: number;
}

/** Reads the workspace as a script would: its own read-only connection. */
function sql<T>(query: string, ...params: unknown[]): T[] {
  const db = new Database(workspaceDbPath(data), { readonly: true });
  try {
    return db.prepare(query).all(...params) as T[];
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  data = shapesWorkspace(path.join(dir, 'data'), 12);
  for (const seed of [0, 1]) {
    const config = path.join(dir, `grpo-${seed}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        dataset: 'shapes',
        model: path.resolve('resources/models/tiny-vlm-base'),
        steps: 6,
        promptsPerStep: 3,
        numGenerations: 4,
        maxCompletionLength: 64,
        checkpointEvery: 100,
        seed,
      }),
    );
    const out = vrft('train', '--method', 'grpo', '--config', config, '--data', data);
    if (out.code !== 0) throw new Error(`vrft train failed: ${out.stderr}`);
  }
  // A warning as the trainer keeps one (six steps rarely raise a real one): the Train view links it
  // to #/traces/1/5.
  const db = openStore(workspaceDbPath(data));
  addRunWarning(db, 1, { kind: 'zero_std', step: 5, message: 'most groups have no reward spread' });
  db.close();
  host = await serveHost(data);
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const signed = (v: number) => `${v < 0 ? '−' : '+'}${Math.abs(v).toFixed(3)}`;

describe('Traces view', () => {
  it('opens a run, scrubs to a step, opens a group whose numbers are the store’s', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = pageErrors(page);
    const traces = new TracesPage(page);
    await traces.shell.open(host.url);
    await traces.open();
    // The newest GRPO run opens at its last step; pick the first run.
    await expect.poll(() => traces.step()).toBe(6);
    await traces.pickRun(1);
    await traces.scrubTo(2);
    await expect.poll(() => traces.step()).toBe(3);
    expect(page.url()).toMatch(/#\/traces\/1\/3\//);

    const keys = sql<{ prompt_key: string }>(
      'SELECT DISTINCT prompt_key FROM rollout WHERE run_id = 1 AND step = 3 ORDER BY prompt_key',
    ).map((r) => r.prompt_key);
    await expect.poll(() => traces.prompts.count()).toBe(keys.length);
    const key = keys.at(-1)!;
    await traces.openPrompt(key);
    const group = traces.group(0);
    await group.locator(`[data-testid="group-key"]:text-is("${key}")`).waitFor();
    expect(await group.getAttribute('data-step')).toBe('3');

    const rows = sql<Row>(
      'SELECT sample_index, rewards, reward, advantage FROM rollout WHERE run_id = 1 AND step = 3 AND prompt_key = ? ORDER BY sample_index',
      key,
    );
    expect(rows).toHaveLength(4);
    const shown = await traces.cardNumbers(group);
    expect(shown).toEqual(
      rows.map((r) => ({
        sample: r.sample_index,
        reward: r.reward.toFixed(3),
        advantage: signed(r.advantage),
        components: Object.fromEntries(
          Object.entries(JSON.parse(r.rewards) as Record<string, number>).map(([k, v]) => [k, v.toFixed(3)]),
        ),
      })),
    );
    // The image is drawn, with the ground truth of the asked category in its own (dashed) style.
    await group.locator('img').first().waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lands on the step a link names, and shows the same prompt of a second run beside it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors = pageErrors(page);
    const traces = new TracesPage(page);
    await traces.openAt(host.url, 1, 5);
    await expect.poll(() => traces.step()).toBe(5);
    expect(await page.getByTestId('step-warning').textContent()).toContain(
      'most groups have no reward spread',
    );
    await traces.group(0).waitFor();
    const key = await traces.group(0).getByTestId('group-key').textContent();
    await traces.compareWith(2);
    const other = traces.group(1);
    await other.waitFor();
    expect(await other.getByTestId('group-key').textContent()).toBe(key);
    expect(await other.getAttribute('data-run')).toBe('2');
    const [nearest] = sql<{ step: number }>(
      'SELECT step FROM rollout WHERE run_id = 2 AND prompt_key = ? ORDER BY abs(step - 5), step LIMIT 1',
      key,
    );
    expect(await other.getAttribute('data-step')).toBe(String(nearest!.step));
    expect(await traces.cards(other).count()).toBe(4);
    // The Traces tab, clicked from a step, opens the newest run again (at its last step).
    await page.getByTestId('nav-traces').click();
    await expect.poll(() => traces.runPicker.inputValue()).toBe('2');
    await expect.poll(() => traces.step()).toBe(6);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('searches the run by lowest advantage and opens the hit’s group', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const traces = new TracesPage(page);
    await traces.openAt(host.url, 1, 1);
    await traces.searchFor({ sort: 'advantage-asc' });
    const [lowest] = sql<{ step: number; prompt_key: string; advantage: number }>(
      'SELECT step, prompt_key, advantage FROM rollout WHERE run_id = 1 ORDER BY advantage, id LIMIT 1',
    );
    const first = traces.hits().first();
    await expect.poll(() => first.textContent()).toContain(`step ${lowest!.step} · ${lowest!.prompt_key}`);
    await first.click();
    await expect.poll(() => traces.step()).toBe(lowest!.step);
    await traces.group(0).locator(`[data-testid="group-key"]:text-is("${lowest!.prompt_key}")`).waitFor();
    const total = sql<{ n: number }>('SELECT count(*) AS n FROM rollout WHERE run_id = 1')[0]!.n;
    expect(await page.getByTestId('search-total').textContent()).toMatch(new RegExp(`^${total} rollouts`));
    await page.close();
  });
});
