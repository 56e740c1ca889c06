/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
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
    // Keyboard only: Tab selects the first box, 3 makes it a bird (each once the screen shows the
    // step before it: the copied boxes listed, then one selected).
    await page.waitForFunction(
      () => document.querySelector('[data-testid="box-list"]')?.children.length === 3,
    );
    await annotate.press('Tab');
    await page.waitForSelector('[data-testid="box-list"] [aria-pressed="true"]');
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

describe('the annotator, laid out and keyed for a person at work', () => {
  const shapes = path.join(dir, 'shapes');
  let page: Page;
  let errors: string[];
  let annotate: AnnotatePage;

  /** Boxes of the "shapes" dataset in SQLite, by x1. */
  const shapeBoxes = () =>
    boxesInDatabase()
      .filter((b) => b.file.startsWith('s'))
      .map((b) => [b.category, ...near(b)]);

  /** [r, g, b] as the brightness a person sees (Rec. 709 luma). */
  const luma = ([r, g, b]: [number, number, number]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

  beforeAll(async () => {
    mkdirSync(shapes, { recursive: true });
    writeFileSync(path.join(shapes, 's1.png'), picture(400, 300, 4));
    writeFileSync(path.join(shapes, 's2.png'), picture(300, 400, 5));
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    errors = pageErrors(page);
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    await datasets.import(shapes, 'shapes', 'folder');
    await page.getByTestId('import-report').filter({ hasText: 'Imported 2 images' }).waitFor();
    await datasets.openDataset('shapes');
    await new DatasetDetailPage(page).openAnnotator();
    annotate = new AnnotatePage(page);
    await annotate.waitForImage();
  });
  afterAll(() => page?.close());

  it('keeps the sidebar beside a canvas that fills the window, at 1440×900 and 1280×720', async () => {
    for (const viewport of [
      { width: 1440, height: 900 },
      { width: 1280, height: 720 },
    ]) {
      await page.setViewportSize(viewport);
      // The canvas follows the window, and the fitted image is fitted again.
      await expect
        .poll(async () => (await annotate.canvas.boundingBox())!.height)
        .toBeGreaterThan(0.75 * viewport.height);
      const canvas = (await annotate.canvas.boundingBox())!;
      const side = (await annotate.sidebar.boundingBox())!;
      expect(side.x).toBeGreaterThanOrEqual(canvas.x + canvas.width - 1);
      expect(side.y).toBeLessThan(canvas.y + 1);
      expect(side.height).toBeGreaterThan(0.75 * viewport.height);
      expect(canvas.x + canvas.width + side.width).toBeLessThanOrEqual(viewport.width + 1);
      // The 400×300 image is fitted to the resized canvas: it fills its width or its height.
      const scale = Number(await annotate.canvas.getAttribute('data-scale'));
      const fill = Math.max((400 * scale) / (canvas.width - 32), (300 * scale) / (canvas.height - 32));
      expect(fill).toBeGreaterThan(0.98);
      expect(fill).toBeLessThan(1.02);
    }
  });

  it('says to add a category first, and stops saying it once there is one', async () => {
    await annotate.drag({ x: 20, y: 20 }, { x: 80, y: 80 });
    await annotate.error.filter({ hasText: 'Add a category first' }).waitFor();
    // The banner takes its own row: the sidebar stays beside the canvas.
    const side = (await annotate.sidebar.boundingBox())!;
    const canvas = (await annotate.canvas.boundingBox())!;
    expect(side.x).toBeGreaterThanOrEqual(canvas.x + canvas.width - 1);
    await annotate.addCategory('circle');
    await expect.poll(() => annotate.error.count()).toBe(0);
    await annotate.addCategory('square');
    expect(shapeBoxes()).toEqual([]);
  });

  it("a number right after drawing picks the next box's category, and recategorises a box picked by hand", async () => {
    await annotate.press('1');
    await annotate.drag({ x: 20, y: 30 }, { x: 120, y: 110 });
    await annotate.press('2');
    await annotate.drag({ x: 200, y: 40 }, { x: 300, y: 140 });
    await annotate.waitSaved();
    await expect.poll(shapeBoxes).toEqual([
      ['circle', 20, 30, 120, 110],
      ['square', 200, 40, 300, 140],
    ]);
    await expect.poll(() => annotate.category('square').getAttribute('aria-pressed')).toBe('true');
    // A box the user selects (Alt+click) takes the category key.
    await annotate.clickAt({ x: 60, y: 70 }, ['Alt']);
    await annotate.press('2');
    await annotate.waitSaved();
    await expect.poll(() => shapeBoxes().map((b) => b[0])).toEqual(['square', 'square']);
    await annotate.press('Control+z');
    await annotate.waitSaved();
    await expect.poll(() => shapeBoxes().map((b) => b[0])).toEqual(['circle', 'square']);
  });

  it("labels each box with its category's name on a tag of its colour", async () => {
    await annotate.press('Escape');
    const swatch = annotate.category('circle').locator('.swatch');
    const color = await swatch.evaluate((e) => getComputedStyle(e).backgroundColor);
    const [r, g, b] = color.match(/\d+/g)!.map(Number) as [number, number, number];
    // The tag sits on the box's top edge, just above it: 1 px in from its left, half a label up.
    const corner = await annotate.screen({ x: 20, y: 30 });
    const onTag = { x: corner.x + 1, y: corner.y - 9 };
    const near = (p: [number, number, number]) => Math.max(...p.map((v, i) => Math.abs(v - [r, g, b][i]!)));
    await expect.poll(async () => near(await annotate.pixel(onTag))).toBeLessThan(12);
    await annotate.press('h');
    await expect.poll(async () => near(await annotate.pixel(onTag))).toBeGreaterThan(30);
    await annotate.press('h');
  });

  it('shows the selected category, box and tool as the highlighted ones, not the darker', async () => {
    // The chosen category's row is brighter than the others'.
    const sample = async (row: Locator) => {
      const box = (await row.boundingBox())!;
      return luma(await annotate.pixel({ x: box.x + box.width - 8, y: box.y + box.height / 2 }));
    };
    await annotate.press('1');
    expect(await sample(annotate.category('circle'))).toBeGreaterThan(
      (await sample(annotate.category('square'))) + 10,
    );
    // The same for the box list, and on the canvas the selected box is tinted.
    const inside = await annotate.screen({ x: 70, y: 100 });
    const before = await annotate.pixel(inside);
    await annotate.press('Tab');
    const rows = annotate.boxList.locator('button');
    await expect.poll(() => rows.first().getAttribute('aria-pressed')).toBe('true');
    expect(await sample(rows.first())).toBeGreaterThan((await sample(rows.last())) + 10);
    await expect
      .poll(async () => Math.max(...(await annotate.pixel(inside)).map((v, i) => Math.abs(v - before[i]!))))
      .toBeGreaterThan(20);
    // A mode that is on is the bright button, whichever it is now.
    const draw = page.getByTestId('draw-mode');
    const wasOn = (await draw.getAttribute('aria-pressed')) === 'true';
    const now = await sample(draw);
    await annotate.press('w');
    await expect.poll(() => draw.getAttribute('aria-pressed')).toBe(String(!wasOn));
    const toggled = await sample(draw);
    expect(wasOn ? now - toggled : toggled - now).toBeGreaterThan(40);
    await annotate.press('Escape');
  });

  it('fits the whole shortcut sheet in a 1280×720 window', async () => {
    await page.setViewportSize({ width: 1280, height: 720 });
    await annotate.press('?');
    const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await dialog.waitFor();
    for (const item of [annotate.shortcuts.first(), annotate.shortcuts.last()]) {
      const box = (await item.boundingBox())!;
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(720);
      expect(box.x + box.width).toBeLessThanOrEqual(1280);
    }
    expect(await annotate.shortcuts.last().textContent()).toMatch(/This sheet/);
    const close = (await dialog.getByRole('button', { name: 'Close' }).boundingBox())!;
    expect(close.y + close.height).toBeLessThanOrEqual(720);
    await annotate.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('shows per-category counts on the dataset page, and deletes a category with its boxes after saying how many', async () => {
    await page.goto(`${host.url}#/datasets`);
    const datasets = new DatasetsPage(page);
    await datasets.shell.waitConnected();
    await datasets.openDataset('shapes');
    const detail = new DatasetDetailPage(page);
    await expect
      .poll(() => detail.categoryCounts.allTextContents())
      .toEqual([
        expect.stringMatching(/circle\s*1 box · 1 img/),
        expect.stringMatching(/square\s*1 box · 1 img/),
      ]);
    const said = await detail.deleteCategory('square');
    expect(said).toMatch(/1 box in 1 image are deleted/);
    await expect.poll(shapeBoxes).toEqual([['circle', 20, 30, 120, 110]]);
    await expect
      .poll(() => detail.categoryCounts.allTextContents())
      .toEqual([expect.stringMatching(/circle\s*1 box · 1 img/)]);
  });

  it('warns before and after creating a split that k cannot be met, and leaves unannotated images out', async () => {
    const detail = new DatasetDetailPage(page);
    await detail.chooseSplit(2, 0);
    await expect
      .poll(() => detail.previewWarnings.allTextContents())
      .toEqual([
        expect.stringMatching(/"circle" is in only 1 image, fewer than k = 2/),
        expect.stringMatching(/1 image with no boxes and not marked "no objects" is left out/),
      ]);
    // Every image with a box goes to training, and the one left is not annotated: nothing to evaluate.
    await detail.page.getByTestId('split-form').getByRole('button', { name: 'Create split' }).click();
    await detail.splitError.filter({ hasText: 'none is left to evaluate on' }).waitFor();
    await detail.page.getByLabel('Include unannotated images').check();
    await detail.createSplit(2, 0, '2-shot');
    await expect
      .poll(() => detail.splitWarnings.allTextContents())
      .toEqual([expect.stringMatching(/"circle" is in only 1 image, fewer than k = 2/)]);
    expect(errors).toEqual([]);
  });
});
