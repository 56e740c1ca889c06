/**
 * Compare in Chromium against `vrft serve` on a real ShapeWorld workspace with two evaluated runs:
 * the table shows `vrft compare --json`'s figures, each evaluation image is answered side by side
 * by both runs, and the table exports as Markdown and CSV, the view as a self-contained HTML report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ComparisonView } from '../../src/shared/compareContract';
import { listAnnotations } from '../../src/main/store/annotations';
import { listCategories } from '../../src/main/store/categories';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { saveEvaluation } from '../../src/main/store/evaluations';
import { createRun } from '../../src/main/store/runs';
import { findSplit, listSplitImageIds } from '../../src/main/store/splits';
import { shapesWorkspaceWithSplit, vrft } from '../support/workspace';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { ComparePage } from './pages/ComparePage';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-compare-'));
const data = path.join(dir, 'data');
let browser: Browser;
let host: ServedHost;
let page: Page;
let errors: string[];

/**
 * Two evaluation runs of the 1-shot evaluation split: "exact" answers every ground-truth box,
 * "shifted" answers each one moved by half its width (IoU < 0.5), so every image is a disagreement.
 */
function evaluatedRuns(): void {
  shapesWorkspaceWithSplit(data);
  const db = openStore(workspaceDbPath(data));
  try {
    const split = findSplit(db, 1, '1-shot-eval')!;
    const categories = listCategories(db, 1);
    const perCategory = (ap50: number) =>
      Object.fromEntries(categories.map((c) => [c.name, { ap50, ap: ap50 / 2 }]));
    const evaluate = (name: string, shift: number, ap50: number) => {
      const runId = createRun(db, { kind: 'eval', name, datasetId: 1, splitId: split.id, config: {} });
      const predictions = listSplitImageIds(db, split.id).flatMap((imageId) =>
        listAnnotations(db, imageId).map((a) => {
          const dx = shift * (a.x2 - a.x1);
          return {
            imageId,
            categoryId: a.categoryId,
            box: { x1: a.x1 + dx, y1: a.y1, x2: a.x2 + dx, y2: a.y2 },
            score: 0.9,
            completion: `<answer>[${a.x1 + dx}, ${a.y1}, ${a.x2 + dx}, ${a.y2}]</answer>`,
          };
        }),
      );
      const metrics = { AP50: ap50, AP: ap50 / 2 };
      saveEvaluation(db, { runId, splitId: split.id, metrics, perCategory: perCategory(ap50) }, predictions);
    };
    evaluate('shifted', 0.5, 0.25);
    evaluate('exact', 0, 1);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  evaluatedRuns();
  browser = await launchBrowser();
  host = await serveHost(data);
  page = await browser.newPage();
  errors = pageErrors(page);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('compare two evaluated runs in the browser', () => {
  it("shows vrft compare's table, the images side by side, and exports the table", async () => {
    const compare = new ComparePage(page);
    await compare.shell.open(host.url);
    await compare.open();
    await compare.pick('shifted', 'exact');

    const cli = vrft('compare', '1', '2', '--resamples', '0', '--json', '--data', data);
    expect(cli.code).toBe(0);
    const table = JSON.parse(cli.stdout) as ComparisonView;
    const cell = (label: string) => {
      const c = table.mean[label]!;
      return `${(100 * c.primary).toFixed(1)} (${(100 * c.secondary!).toFixed(1)})`;
    };
    const shown = await compare.row('all', 2);
    expect(shown).toEqual({ shifted: cell('eval 1'), exact: cell('eval 2') });
    expect(shown).toEqual({ shifted: '25.0 (12.5)', exact: '100.0 (50.0)' });

    // Each image answered by both runs, the runs disagreeing on it (exact finds it, shifted not).
    await compare.answers.first().waitFor();
    expect(await compare.answers.first().getByTestId('answer-panel').count()).toBe(2);
    expect(await compare.answers.first().getByTestId('answer-figure').allTextContents()).toEqual([
      '0%',
      '100%',
    ]);

    const markdown = await compare.export('markdown');
    expect(markdown).toMatch(/\| category \| shifted \| exact \| Δ exact−shifted \|/);
    expect(markdown).toContain(`| all | ${shown.shifted} | ${shown.exact} |`);
    const csv = await compare.export('csv');
    expect(csv.split('\n')[0]).toMatch(/^category,/);
    // The report stands alone: the table, and the answered images inlined, nothing fetched.
    await expect.poll(() => compare.answers.first().locator('img').first().getAttribute('src')).toBeTruthy();
    const report = await compare.export('html');
    expect(report).toContain('<table');
    expect(report).toContain(shown.exact);
    expect(report).toMatch(/<img[^>]+src="data:image\//);
    expect(report).not.toMatch(/src="(blob:|http)/);
    expect(errors).toEqual([]);
  }, 120_000);
});
