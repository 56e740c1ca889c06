import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { AppShell } from './AppShell';

/** The Compare view: runs or an experiment side by side, their table, curves and answers. */
export class ComparePage {
  readonly shell: AppShell;
  readonly table: Locator;
  readonly answers: Locator;
  readonly error: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.table = page.getByTestId('compare-table');
    this.answers = page.getByTestId('answer-row');
    this.error = page.getByTestId('compare-error');
  }

  async open(): Promise<void> {
    await this.shell.goTo('compare');
    await this.page.getByRole('heading', { name: /^Compare/ }).waitFor();
  }

  /** Ticks runs in the picker by their label (the run's name, or "SFT 7"). */
  async pick(...labels: string[]): Promise<void> {
    for (const label of labels)
      await this.page
        .getByTestId('pick-runs')
        .locator('label', { hasText: label })
        .first()
        .getByRole('checkbox')
        .check();
  }

  async pickExperiment(name: string): Promise<void> {
    const select = this.page.getByTestId('pick-experiment');
    const option = (await select.locator('option').allTextContents()).find((t) => t.startsWith(name))!;
    await select.selectOption({ label: option });
  }

  /**
   * The table's cells of one row ("all" for the mean), by column label, once it has a column for
   * each of `columns` runs: the table is redrawn as each run is ticked, and a row read between two
   * ticks has fewer columns.
   */
  async row(category: string, columns?: number): Promise<Record<string, string>> {
    const row = this.table.locator(`[data-testid="compare-row"][data-category="${category}"]`);
    await row.waitFor();
    if (columns !== undefined) await expect.poll(() => row.locator('td[data-column]').count()).toBe(columns);
    const cells = await row
      .locator('td[data-column]')
      .evaluateAll((tds) => tds.map((td) => [td.getAttribute('data-column')!, td.textContent!.trim()]));
    return Object.fromEntries(cells);
  }

  /** Waits for the Δ intervals (measured after the table shows). */
  async waitForIntervals(): Promise<void> {
    await this.page.getByTestId('interval-note').first().waitFor({ timeout: 60_000 });
  }

  /** Downloads an export and returns its text. */
  async export(kind: 'markdown' | 'csv' | 'html'): Promise<string> {
    const [download] = await Promise.all([
      this.page.waitForEvent('download'),
      this.page.getByTestId(`export-${kind}`).click(),
    ]);
    const stream = await download.createReadStream();
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
}
