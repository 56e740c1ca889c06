/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-annotate-'));
const folder = path.join(dir, 'photos');

/** A picture with some structure, so each file has its own content hash. */
function picture(width: number, height: number, seed: number): Buffer {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[i * 3] = (i * 7 + seed * 31) % 256;
    rgb[i * 3 + 1] = ((i % width) * 3 + seed) % 256;
    rgb[i * 3 + 2] = (Math.floor(i / width) * 5) % 256;
  }
  return encodePng(width, height, rgb);
}

/** The boxes in SQLite, of one image file when given, by image and then x1. */
function boxesInDatabase(file?: string): {
  file: string;
  category: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}[] {
  const db = new Database(workspaceDbPath(host.dataDir), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT i.path AS file, c.name AS category, a.x1, a.y1, a.x2, a.y2
         FROM annotation a JOIN image i ON i.id = a.image_id JOIN category c ON c.id = a.category_id
         ORDER BY i.id, a.x1`,
      )
      .all()
      .map((r) => {
        const row = r as { file: string; category: string; x1: number; y1: number; x2: number; y2: number };
        return { ...row, file: path.basename(row.file) };
      })
      .filter((b) => file === undefined || b.file === file);
  } finally {
    db.close();
  }
}

function flags(): [string, number, number][] {
  const db = new Database(workspaceDbPath(host.dataDir), { readonly: true });
  try {
    return (
      db.prepare('SELECT path, verified, negative FROM image ORDER BY id').all() as {
        path: string;
        verified: number;
        negative: number;
      }[]
    ).map((r) => [path.basename(r.path), r.verified, r.negative]);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'a.png'), picture(400, 300, 1));
  writeFileSync(path.join(folder, 'b.png'), picture(320, 240, 2));
  writeFileSync(path.join(folder, 'c.png'), picture(200, 200, 3));
  host = await serveHost(path.join(dir, 'data'));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Each box as drawn at 1 decimal (a person places boxes to a pixel or so). */
const near = (b: { x1: number; y1: number; x2: number; y2: number }) =>
  [b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v));

describe('annotating a folder', () => {
  let page: Page;
  let errors: string[];

  it('imports a folder, draws, resizes, undoes, recategorises, and every edit is in SQLite', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    errors = pageErrors(page);
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    await datasets.import(folder, 'photos', 'folder');
    await page.getByTestId('import-report').filter({ hasText: 'Imported 3 images' }).waitFor();
    await datasets.openDataset('photos');
    const detail = new DatasetDetailPage(page);
    await expect.poll(() => detail.tiles.count()).toBe(3);
    // Every tile's thumbnail loads, not only the first.
    await expect.poll(() => detail.thumbnails.count()).toBe(3);

    await detail.openAnnotator();
    const annotate = new AnnotatePage(page);
    await annotate.waitForImage();
    const first = await annotate.imageId();
    for (const name of ['cat', 'dog', 'bird']) await annotate.addCategory(name);
    await annotate.press('1');

    // Draw mode is on: two boxes by dragging, a third by two clicks.
    await annotate.drag({ x: 20, y: 30 }, { x: 120, y: 110 });
    await annotate.drag({ x: 200, y: 40 }, { x: 300, y: 140 });
    await annotate.clickAt({ x: 50, y: 180 });
    await annotate.clickAt({ x: 150, y: 260 });
    await annotate.waitSaved();
    await expect.poll(() => boxesInDatabase().length).toBe(3);
    expect(boxesInDatabase().map(near)).toEqual([
      [20, 30, 120, 110],
      [50, 180, 150, 260],
      [200, 40, 300, 140],
    ]);

    // The box just drawn is selected: drag its bottom-right handle.
    await annotate.drag({ x: 150, y: 260 }, { x: 180, y: 290 });
    await annotate.waitSaved();
    await expect.poll(() => boxesInDatabase().map(near)[1]).toEqual([50, 180, 180, 290]);

    await annotate.press('Control+z');
    await annotate.waitSaved();
    await expect.poll(() => boxesInDatabase().map(near)[1]).toEqual([50, 180, 150, 260]);

    // Alt+click selects while drawing; 2 moves the box to the second category.
    await annotate.clickAt({ x: 250, y: 90 }, ['Alt']);
    await annotate.press('2');
    await annotate.waitSaved();
    await expect.poll(() => boxesInDatabase().map((b) => b.category)).toEqual(['cat', 'cat', 'dog']);

    await annotate.press('d');
    await page.waitForFunction(
      (id) => document.querySelector(`[data-image]`)?.getAttribute('data-image') !== String(id),
      first,
    );
    expect(await annotate.boxList.count()).toBe(0);
    await annotate.press('a');
    await annotate.waitForImage(first);
    expect(await annotate.boxList.count()).toBe(3);

    await page.reload();
    await annotate.waitForImage(first);
    expect(await annotate.boxList.count()).toBe(3);
    expect(boxesInDatabase().map((b) => [b.file, b.category, ...near(b)])).toEqual([
      ['a.png', 'cat', 20, 30, 120, 110],
      ['a.png', 'cat', 50, 180, 150, 260],
      ['a.png', 'dog', 200, 40, 300, 140],
    ]);
    expect(errors).toEqual([]);
  });

  it('copies the previous image\'s boxes, and sets the verified and "no objects" flags', async () => {
    const annotate = new AnnotatePage(page);
    await annotate.press('d');
    await page.waitForFunction(
      () => document.querySelector('[data-testid="box-list"]')?.children.length === 0,
    );
    await annotate.press('Control+Shift+V');
    await annotate.waitSaved();
    await expect
      .poll(() => boxesInDatabase('b.png').map(near))
      .toEqual([
        [20, 30, 120, 110],
        [50, 180, 150, 240],
        [200, 40, 300, 140],
      ]);
    // Keyboard only: Tab selects the first box, 3 makes it a bird.
    await annotate.press('Tab');
    await annotate.press('3');
    await annotate.waitSaved();
    await expect.poll(() => boxesInDatabase('b.png').map((b) => b.category)).toEqual(['bird', 'cat', 'dog']);
    // Tab walks on to the next box in the image's list (copied in the order a.png's were drawn:
    // the dog), and the arrow keys nudge it (Shift: 10 pixels).
    await annotate.press('Tab');
    await annotate.press('Shift+ArrowRight');
    await annotate.press('ArrowDown');
    await annotate.waitSaved();
    await expect
      .poll(() => boxesInDatabase('b.png').map(near))
      .toEqual([
        [20, 30, 120, 110],
        [50, 180, 150, 240],
        [210, 41, 310, 141],
      ]);
    await annotate.press('v');
    await annotate.press('d');
    await page.waitForFunction(
      () => document.querySelector('[data-testid="box-list"]')?.children.length === 0,
    );
    await annotate.press('n');
    await expect
      .poll(() => flags())
      .toEqual([
        ['a.png', 0, 0],
        ['b.png', 1, 0],
        ['c.png', 0, 1],
      ]);
    // A negative image takes no boxes: the refusal says what to do, and nothing is saved.
    await annotate.drag({ x: 10, y: 10 }, { x: 90, y: 90 });
    await annotate.error.filter({ hasText: 'no objects' }).waitFor();
    expect(boxesInDatabase('c.png')).toEqual([]);
    await page.getByRole('button', { name: 'Dismiss' }).click();
    expect(errors).toEqual([]);
  });

  it('without a dataset lists the datasets, and picking one opens its first image', async () => {
    await page.goto(`${host.url}#/annotate`);
    const annotate = new AnnotatePage(page);
    await annotate.shell.waitConnected();
    const link = page.getByTestId('annotate-dataset');
    await link.filter({ hasText: 'photos' }).click();
    await annotate.waitForImage();
    expect(page.url()).toMatch(/#\/annotate\/\d+\/\d+$/);
  });

  it('exports the boxes as COCO', async () => {
    const out = path.join(dir, 'export', 'photos.json');
    await page.goto(`${host.url}#/datasets`);
    const datasets = new DatasetsPage(page);
    await datasets.shell.waitConnected();
    await datasets.openDataset('photos');
    await new DatasetDetailPage(page).export('coco', out);
    const coco = JSON.parse(readFileSync(out, 'utf8')) as {
      images: { id: number; file_name: string; width: number; height: number }[];
      annotations: { image_id: number; category_id: number; bbox: number[] }[];
      categories: { id: number; name: string }[];
    };
    expect(coco.categories.map((c) => [c.id, c.name])).toEqual([
      [1, 'cat'],
      [2, 'dog'],
      [3, 'bird'],
    ]);
    expect(coco.images.map((i) => [path.basename(i.file_name), i.width, i.height])).toEqual([
      ['a.png', 400, 300],
      ['b.png', 320, 240],
      ['c.png', 200, 200],
    ]);
    const a = coco.images[0]!.id;
    expect(
      coco.annotations
        .filter((x) => x.image_id === a)
        .map((x) => [x.image_id, x.category_id, ...x.bbox.map((v) => Math.round(v))])
        .sort((p, q) => p[2]! - q[2]!),
    ).toEqual([
      [a, 1, 20, 30, 100, 80],
      [a, 1, 50, 180, 100, 80],
      [a, 2, 200, 40, 100, 100],
    ]);
    expect(errors).toEqual([]);
  });
});
