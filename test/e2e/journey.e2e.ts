/**
 * The journeys without the command line, in Chromium against `vrft serve` on a real workspace:
 * start a GRPO and an SFT run from the Train form, watch their progress, evaluate both, compare
 * them (the table is `vrft compare`'s), and open one of the GRPO run's rollout groups (its numbers
 * are the store's).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { ComparePage } from './pages/ComparePage';
import { TracesPage } from './pages/TracesPage';
import { TrainPage } from './pages/TrainPage';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspaceWithSplit, vrft } from '../support/workspace';
import { workspaceDbPath } from '../../src/main/store/db';
import type { ComparisonView } from '../../src/shared/compareContract';

let browser: Browser;
let host: ServedHost;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-journey-'));
const model = path.join(dir, 'model');
const data = path.join(dir, 'data');

beforeAll(async () => {
  saveTinyModel(model);
  shapesWorkspaceWithSplit(data);
  host = await serveHost(data);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('train, evaluate, compare and replay in the app alone', () => {
  it('does every step of journeys 2 and 3 from the screens', { timeout: 180_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = pageErrors(page);
    const train = new TrainPage(page);
    await train.shell.open(host.url);
    await train.open();
    const common = { dataset: 'shapes', split: '1-shot', evalSplit: '1-shot-eval', model, steps: 8 };
    await train.start(
      'GRPO',
      { ...common, promptsPerStep: 1, numGenerations: 4, maxCompletionLength: 16, checkpointEvery: 8 },
      'rft',
    );
    await train.row(1).waitFor();
    await train.start('SFT', { ...common, batchSize: 2, checkpointEvery: 8 }, 'sft');
    await train.row(2).waitFor();
    // Progress shows while they train, then both complete.
    await train.row(1).getByTestId('run-progress').waitFor({ timeout: 60_000 });
    await train.waitForStatus(1, 'completed', 90_000);
    await train.waitForStatus(2, 'completed', 90_000);
    expect(await train.row(1).getByTestId('run-progress').textContent()).toMatch(/^8\/8/);

    await train.evaluate(1, '1-shot-eval');
    await train.evaluate(2, '1-shot-eval');
    await train.waitForStatus(3, 'completed', 60_000);
    await train.waitForStatus(4, 'completed', 60_000);

    const compare = new ComparePage(page);
    await compare.open();
    await compare.pick('sft', 'rft');
    const shown = await compare.row('all', 2);
    // The same figures `vrft compare` prints for the two runs.
    const cli = vrft('compare', '2', '1', '--resamples', '0', '--json', '--data', data);
    expect(cli.code).toBe(0);
    const table = JSON.parse(cli.stdout) as ComparisonView;
    const cell = (label: string) => {
      const c = table.mean[label]!;
      return c.primary < 0 ? '–' : `${(100 * c.primary).toFixed(1)} (${(100 * c.secondary!).toFixed(1)})`;
    };
    expect(shown).toEqual({ sft: cell('sft 2'), rft: cell('grpo 1') });
    await compare.waitForIntervals();
    await compare.answers.first().waitFor();
    expect(await compare.answers.first().getByTestId('answer-panel').count()).toBe(2);
    const markdown = await compare.export('markdown');
    expect(markdown).toMatch(/\| category \| sft \| rft \| Δ rft−sft \|/);
    expect(markdown).toContain(`| all | ${shown.sft} | ${shown.rft} |`);

    const traces = new TracesPage(page);
    await traces.openAt(host.url, 1, 4);
    await expect.poll(() => traces.step()).toBe(4);
    const db = new Database(workspaceDbPath(data), { readonly: true });
    const key = (
      db.prepare('SELECT prompt_key FROM rollout WHERE run_id = 1 AND step = 4 LIMIT 1').get() as {
        prompt_key: string;
      }
    ).prompt_key;
    const rows = db
      .prepare(
        'SELECT sample_index, reward FROM rollout WHERE run_id = 1 AND step = 4 AND prompt_key = ? ORDER BY sample_index',
      )
      .all(key) as { sample_index: number; reward: number }[];
    db.close();
    await traces.openPrompt(key);
    const group = traces.group(0);
    await group.locator(`[data-testid="group-key"]:text-is("${key}")`).waitFor();
    const cards = await traces.cardNumbers(group);
    expect(cards.map((c) => [c.sample, c.reward])).toEqual(
      rows.map((r) => [r.sample_index, r.reward.toFixed(3)]),
    );
    expect(errors).toEqual([]);
    await page.close();
  });
});
