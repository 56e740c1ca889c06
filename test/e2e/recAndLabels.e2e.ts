/// <reference lib="dom" />
/**
 * Issue 25 in the app: a box's referring expression and crowd flag typed in the annotator, an
 * image's label (classification) set and cleared, a category's synonyms edited — each kept in
 * SQLite and shown again after a reload.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { encodePng } from '../../src/main/data/png';
import { workspaceDbPath } from '../../src/main/store/db';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { AnnotatePage } from './pages/AnnotatePage';
import { DatasetDetailPage } from './pages/DatasetDetailPage';
import { DatasetsPage } from './pages/DatasetsPage';

let browser: Browser;
let host: ServedHost;
let page: Page;
let errors: string[];
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-rec-'));
const folder = path.join(dir, 'room');

function picture(width: number, height: number, seed: number): Buffer {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[i * 3] = (i * 3 + seed * 41) % 256;
    rgb[i * 3 + 1] = ((i % width) * 2 + seed) % 256;
    rgb[i * 3 + 2] = (Math.floor(i / width) * 3) % 256;
  }
  return encodePng(width, height, rgb);
}

/** Runs a read-only query on the workspace's SQLite. */
function query<T>(sql: string): T[] {
  const db = new Database(workspaceDbPath(host.dataDir), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

const boxes = () =>
  query<{ expression: string; crowd: number }>('SELECT expression, crowd FROM annotation ORDER BY id');
const labels = () =>
  query<{ file: string; label: string }>(
    `SELECT i.path AS file, c.name AS label FROM image_label l
     JOIN image i ON i.id = l.image_id JOIN category c ON c.id = l.category_id ORDER BY i.id`,
  ).map((r) => [path.basename(r.file), r.label]);
const synonyms = () =>
  query<{ name: string; synonyms: string }>('SELECT name, synonyms FROM category ORDER BY ord').map((r) => [
    r.name,
    JSON.parse(r.synonyms) as string[],
  ]);

beforeAll(async () => {
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'r1.png'), picture(400, 300, 1));
  writeFileSync(path.join(folder, 'r2.png'), picture(300, 300, 2));
  host = await serveHost(path.join(dir, 'data'));
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  errors = pageErrors(page);
  const datasets = new DatasetsPage(page);
  await datasets.open(host.url);
  await datasets.import(folder, 'room', 'folder');
  await page.getByTestId('import-report').filter({ hasText: 'Imported 2 images' }).waitFor();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('referring expressions, image labels and synonyms', () => {
  let annotate: AnnotatePage;
  let first: number;

  it("types a box's referring expression (the keys type, not act), marks it a crowd, and both survive a reload", async () => {
    await new DatasetsPage(page).openDataset('room');
    await new DatasetDetailPage(page).openAnnotator();
    annotate = new AnnotatePage(page);
    await annotate.waitForImage();
    first = await annotate.imageId();
    for (const name of ['person', 'chair']) await annotate.addCategory(name);
    await annotate.press('1');
    await annotate.drag({ x: 40, y: 40 }, { x: 160, y: 220 });
    await annotate.waitSaved();
    await annotate.selectedBox.waitFor();

    // "d", "a", "h", "n", "w", digits: each an annotator key, here only letters of the expression.
    const expression = 'the man in red, holding 2 dogs and a hat';
    await annotate.typeExpression(expression);
    await annotate.waitSaved();
    await expect.poll(boxes).toEqual([{ expression, crowd: 0 }]);
    expect(await annotate.imageId()).toBe(first);
    expect(await page.getByTestId('flag-negative').isChecked()).toBe(false);
    expect(await page.getByTestId('draw-mode').getAttribute('aria-pressed')).toBe('true');
    // The box list says it is a REC item and shows its expression.
    const row = annotate.boxList.first();
    await expect.poll(() => row.getByTestId('box-row-expression').textContent()).toBe(`“${expression}”`);
    expect(await row.textContent()).toContain('REC');

    await page.getByTestId('box-crowd').check();
    await annotate.waitSaved();
    await expect.poll(boxes).toEqual([{ expression, crowd: 1 }]);

    // One expression is one undo step.
    await annotate.press('Control+z');
    await annotate.waitSaved();
    await expect.poll(boxes).toEqual([{ expression, crowd: 0 }]);
    await annotate.press('Control+z');
    await annotate.waitSaved();
    await expect.poll(boxes).toEqual([{ expression: '', crowd: 0 }]);
    await annotate.press('Control+Shift+z');
    await annotate.press('Control+Shift+z');
    await annotate.waitSaved();
    await expect.poll(boxes).toEqual([{ expression, crowd: 1 }]);

    await page.reload();
    await annotate.waitForImage(first);
    await expect.poll(() => annotate.boxList.count()).toBe(1);
    expect(await annotate.boxList.first().getByTestId('box-row-expression').textContent()).toBe(
      `“${expression}”`,
    );
    await annotate.press('Tab');
    await expect.poll(() => annotate.expressionField.inputValue()).toBe(expression);
    expect(await page.getByTestId('box-crowd').isChecked()).toBe(true);

    // Escape leaves the field without keeping what was typed; an empty field clears the expression.
    await annotate.press('e');
    await annotate.page.keyboard.type(' and more');
    await annotate.press('Escape');
    await annotate.waitSaved();
    expect(boxes()).toEqual([{ expression, crowd: 1 }]);
    await annotate.typeExpression('');
    await annotate.waitSaved();
    await expect.poll(boxes).toEqual([{ expression: '', crowd: 1 }]);
    expect(await annotate.boxList.first().getByTestId('box-row-expression').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("sets the image's label from the toolbar and by Shift+number, clears it, and the grid shows it", async () => {
    await annotate.press('Escape');
    await annotate.setImageLabel('chair');
    await expect.poll(labels).toEqual([['r1.png', 'chair']]);
    // Shift+1: the first category; again: no label.
    await annotate.press('Shift+Digit1');
    await expect.poll(labels).toEqual([['r1.png', 'person']]);
    // The toolbar shows it (the store has it first): pressed before, Shift+1 would toggle "chair".
    await expect.poll(() => annotate.imageLabel.locator('option:checked').textContent()).toMatch(/^person/);
    await annotate.press('Shift+Digit1');
    await expect.poll(labels).toEqual([]);
    await expect.poll(() => annotate.imageLabel.inputValue()).toBe('');
    await annotate.press('Shift+Digit2');
    await expect.poll(labels).toEqual([['r1.png', 'chair']]);

    await page.reload();
    await annotate.waitForImage(first);
    await expect.poll(() => annotate.imageLabel.locator('option:checked').textContent()).toMatch(/^chair/);

    await page.goto(`${host.url}#/datasets`);
    const datasets = new DatasetsPage(page);
    await datasets.shell.waitConnected();
    await datasets.openDataset('room');
    const detail = new DatasetDetailPage(page);
    await expect.poll(() => detail.tiles.count()).toBe(2);
    await expect.poll(() => detail.tileLabels.allTextContents()).toEqual(['chair']);

    // Cleared from the toolbar's "none": the grid no longer shows it.
    await detail.openAnnotator();
    await annotate.waitForImage(first);
    await annotate.setImageLabel('none');
    await expect.poll(labels).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("edits a category's synonyms, comma-separated, and shows them after a reload", async () => {
    await page.goto(`${host.url}#/datasets`);
    const datasets = new DatasetsPage(page);
    await datasets.shell.waitConnected();
    await datasets.openDataset('room');
    const detail = new DatasetDetailPage(page);
    await expect.poll(() => detail.tileLabels.count()).toBe(0);
    await detail.setSynonyms('chair', ' seat, stool ,, seat, armchair');
    await expect.poll(synonyms).toEqual([
      ['person', []],
      ['chair', ['seat', 'stool', 'armchair']],
    ]);
    await page.reload();
    await detail.shell.waitConnected();
    await expect.poll(() => detail.synonyms('chair').inputValue()).toBe('seat, stool, armchair');
    await detail.setSynonyms('chair', '');
    await expect.poll(synonyms).toEqual([
      ['person', []],
      ['chair', []],
    ]);
    expect(errors).toEqual([]);
  });
});
