import type { Locator, Page } from 'playwright-core';
import { AppShell } from './AppShell';

/** One dataset's page: images, categories, splits, export. */
export class DatasetDetailPage {
  readonly shell: AppShell;
  readonly title: Locator;
  readonly tiles: Locator;
  /** The tiles' thumbnails that have loaded. */
  readonly thumbnails: Locator;
  readonly notice: Locator;
  readonly error: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.title = page.getByTestId('dataset-title');
    this.tiles = page.getByTestId('image-tile');
    this.thumbnails = this.tiles.locator('img');
    this.notice = page.getByTestId('notice');
    this.error = page.getByTestId('error');
  }

  async openAnnotator(): Promise<void> {
    await this.page.getByTestId('open-annotator').click();
  }

  async export(format: string, out: string, split?: string): Promise<void> {
    const form = this.page.getByTestId('export-form');
    await form.getByLabel('Export format').selectOption(format);
    if (split) await form.getByLabel('Export split').selectOption({ label: split });
    await form.getByLabel('Export to').fill(out);
    await form.getByRole('button', { name: 'Export' }).click();
    await this.notice.waitFor();
  }

  async createSplit(k: number, seed: number, name: string): Promise<void> {
    const form = this.page.getByTestId('split-form');
    await form.getByLabel('Images per category').selectOption(String(k));
    await form.getByLabel('Seed').fill(String(seed));
    await form.getByLabel('Split name').fill(name);
    await form.getByRole('button', { name: 'Create split' }).click();
    await this.notice.waitFor();
  }
}
