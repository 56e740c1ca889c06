import type { Locator, Page } from 'playwright-core';
import { AppShell } from './AppShell';

/** The Datasets view, in the user's steps. */
export class DatasetsPage {
  readonly shell: AppShell;
  readonly rows: Locator;
  readonly error: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.rows = page.getByTestId('dataset-row');
    this.error = page.getByTestId('error');
  }

  async open(url: string): Promise<void> {
    await this.shell.open(url);
    await this.shell.goTo('datasets');
    await this.page.locator('[data-testid="datasets"], [data-testid="empty"]').first().waitFor();
  }

  /** The first screen's "Try the demo" card, shown on an empty workspace and while the demo runs. */
  get demo(): Locator {
    return this.page.getByTestId('demo');
  }

  async tryDemo(): Promise<void> {
    await this.demo.getByTestId('start-demo').click();
  }

  row(name: string): Locator {
    return this.page.locator(`[data-testid="dataset-row"][data-name="${name}"]`);
  }

  async create(name: string, description = ''): Promise<void> {
    const form = this.page.getByTestId('create-dataset');
    await form.getByLabel('Dataset name').fill(name);
    await form.getByLabel('Description').fill(description);
    await form.getByRole('button', { name: 'Create dataset' }).click();
  }

  async names(): Promise<string[]> {
    return this.rows.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-name') ?? ''));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.row(from).getByRole('button', { name: 'Rename' }).click();
    const input = this.row(from).getByLabel('New name');
    await input.fill(to);
    await input.press('Enter');
    await this.row(to).waitFor();
  }

  async delete(name: string, { confirm }: { confirm: boolean }): Promise<void> {
    await this.row(name).getByRole('button', { name: 'Delete' }).click();
    const dialog = this.page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: confirm ? 'Delete dataset' : 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  }

  /** Imports a folder or file through the import form; resolves when the report shows. */
  async import(source: string, name: string, format = 'auto'): Promise<void> {
    const form = this.page.getByTestId('import-form');
    await form.getByLabel('Import path').fill(source);
    await form.getByLabel('Import format').selectOption(format);
    await form.getByLabel('Imported dataset name').fill(name);
    await form.getByRole('button', { name: 'Import' }).click();
    await this.page.locator('[data-testid="import-report"], [data-testid="error"]').first().waitFor();
  }

  async openDataset(name: string): Promise<void> {
    await this.row(name).getByTestId('dataset-link').click();
    await this.page.getByTestId('dataset-title').filter({ hasText: name }).waitFor();
  }

  counts(name: string): { images: Locator; annotations: Locator } {
    return {
      images: this.row(name).getByTestId('image-count'),
      annotations: this.row(name).getByTestId('annotation-count'),
    };
  }
}
