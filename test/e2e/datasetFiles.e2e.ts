/// <reference lib="dom" />
/**
 * Importing and exporting in the app (issues 25 and 26): a VLM-R1 REC file's expressions are
 * counted in the import report, an export never writes over a file without asking, and the
 * format's own options (Visual-RFT's task, VLM-R1's frame) are offered.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { encodePng } from '../../src/main/data/png';
import { launchBrowser, pageErrors, serveHost, type ServedHost } from './support/env';
import { DatasetDetailPage } from './pages/DatasetDetailPage';
import { DatasetsPage } from './pages/DatasetsPage';

let browser: Browser;
let host: ServedHost;
let page: Page;
let errors: string[];
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-e2e-files-'));

const png = (width: number, height: number, seed: number) =>
  encodePng(
    width,
    height,
    new Uint8Array(width * height * 3).map((_, i) => (i * 7 + seed * 13) % 256),
  );

beforeAll(async () => {
  const rec = path.join(dir, 'rec');
  mkdirSync(rec, { recursive: true });
  writeFileSync(path.join(rec, 'a.png'), png(320, 240, 1));
  writeFileSync(path.join(rec, 'b.png'), png(200, 200, 2));
  const ask = (expression: string) =>
    `<image>Please provide the bounding box coordinate of the region this sentence describes: ${expression}.`;
  const line = (id: number, image: string, expression: string, box: number[]) =>
    JSON.stringify({
      id,
      image,
      conversations: [
        { from: 'human', value: ask(expression) },
        { from: 'gpt', value: JSON.stringify(box) },
      ],
    });
  writeFileSync(
    path.join(rec, 'refs.jsonl'),
    [
      line(1, 'a.png', 'the man in red', [6, 18, 150, 200]),
      line(2, 'a.png', 'the dog on the left', [160, 40, 300, 210]),
      line(3, 'b.png', 'the cup', [10, 10, 90, 80]),
      JSON.stringify({
        id: 4,
        image: ['a.png', 'b.png'],
        conversations: [
          { from: 'human', value: ask('x') },
          { from: 'gpt', value: '[1, 2, 3, 4]' },
        ],
      }),
    ].join('\n') + '\n',
  );
  host = await serveHost(path.join(dir, 'data'));
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  errors = pageErrors(page);
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('dataset files in the app', () => {
  it('reports a REC file’s expressions and the lines it left out', async () => {
    const datasets = new DatasetsPage(page);
    await datasets.open(host.url);
    await datasets.import(path.join(dir, 'rec', 'refs.jsonl'), 'refs', 'vlmr1');
    const report = page.getByTestId('import-report');
    await report.filter({ hasText: 'Imported 2 images, 3 boxes' }).waitFor();
    await expect
      .poll(() => page.getByTestId('import-tasks').textContent())
      .toContain('3 referring expressions');
    expect(await report.textContent()).toMatch(/1 line of the file\s+left\s+out/);
    await datasets.openDataset('refs');
  });

  it('asks before an export writes over a file; Cancel keeps it, Replace writes it', async () => {
    const detail = new DatasetDetailPage(page);
    const notes = path.join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes');
    const form = page.getByTestId('export-form');
    await form.getByLabel('Export format').selectOption('coco');
    await form.getByLabel('Export to').fill(notes);
    await form.getByRole('button', { name: 'Export' }).click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`${notes} already exists`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(readFileSync(notes, 'utf8')).toBe('my notes');

    await form.getByRole('button', { name: 'Export' }).click();
    await dialog.getByRole('button', { name: 'Replace' }).click();
    await detail.notice.filter({ hasText: 'Exported 2 images and 3 boxes' }).waitFor();
    expect(JSON.parse(readFileSync(notes, 'utf8'))).toMatchObject({ images: expect.any(Array) });
  });

  it('offers each format its own options: VLM-R1 keeps the file’s lines and ids', async () => {
    const detail = new DatasetDetailPage(page);
    const form = page.getByTestId('export-form');
    await form.getByLabel('Export format').selectOption('visualrft');
    expect(await form.getByLabel('Export task').isVisible()).toBe(true);
    await form.getByLabel('Export format').selectOption('vlmr1');
    expect(await form.getByLabel('Export frame').isVisible()).toBe(true);
    const out = path.join(dir, 'back.jsonl');
    await form.getByLabel('Export to').fill(out);
    await form.getByRole('button', { name: 'Export' }).click();
    await detail.notice.filter({ hasText: 'back.jsonl' }).waitFor();
    const ids = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toEqual([1, 2, 3]);
    expect(errors).toEqual([]);
  });
});
