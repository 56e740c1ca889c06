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

  /** Sets k and the seed in the split form (the preview follows them). */
  async chooseSplit(k: number, seed: number): Promise<void> {
    const form = this.page.getByTestId('split-form');
    await form.getByLabel('Images per category').selectOption(String(k));
    await form.getByLabel('Seed').fill(String(seed));
  }

  async createSplit(k: number, seed: number, name: string): Promise<void> {
    await this.chooseSplit(k, seed);
    const form = this.page.getByTestId('split-form');
    await form.getByLabel('Split name').fill(name);
    await form.getByRole('button', { name: 'Create split' }).click();
    await this.page.getByTestId('split-created').waitFor();
  }

  /** Why the split form refused to create a split. */
  get splitError(): Locator {
    return this.page.getByTestId('split-error');
  }

  /** What the split form's preview warns about, before creating. */
  get previewWarnings(): Locator {
    return this.page.getByTestId('split-preview-warnings').locator('li');
  }

  /** What the split just created warned about. */
  get splitWarnings(): Locator {
    return this.page.getByTestId('split-warnings').locator('li');
  }

  /** The per-category counts under the dataset's title. */
  get categoryCounts(): Locator {
    return this.page.getByTestId('category-counts').locator('li');
  }

  /** A category's synonyms field in the category list. */
  synonyms(category: string): Locator {
    return this.page.getByLabel(`Synonyms of ${category}`);
  }

  /** Types a category's synonyms, comma-separated, and keeps them (Enter). */
  async setSynonyms(category: string, text: string): Promise<void> {
    const field = this.synonyms(category);
    await field.fill(text);
    await field.press('Enter');
    await field.blur();
  }

  /** The image labels shown on the grid's tiles. */
  get tileLabels(): Locator {
    return this.tiles.getByTestId('image-label');
  }

  /** Deletes a category through its confirm dialog; resolves with what the dialog said. */
  async deleteCategory(name: string): Promise<string> {
    await this.page.getByRole('button', { name: `Delete ${name}` }).click();
    const dialog = this.page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    const said = (await dialog.textContent()) ?? '';
    await dialog.getByRole('button', { name: /^Delete it/ }).click();
    await dialog.waitFor({ state: 'detached' });
    await this.notice.waitFor();
    return said;
  }
}
