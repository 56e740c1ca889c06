import type { Locator, Page } from 'playwright-core';
import { AppShell } from './AppShell';

/** The Train view: start runs, watch them, pause / resume / cancel them. */
export class TrainPage {
  readonly shell: AppShell;
  readonly error: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.error = page.getByTestId('error');
  }

  async open(): Promise<void> {
    await this.shell.goTo('train');
    await this.page.getByTestId('start-run').waitFor();
  }

  async start(method: 'GRPO' | 'SFT', config: Record<string, unknown>): Promise<void> {
    const form = this.page.getByTestId('start-run');
    await form.getByRole('button', { name: method, exact: true }).click();
    await form.getByLabel('Run config (JSON)').fill(JSON.stringify(config));
    await form.getByRole('button', { name: `Start ${method} run` }).click();
  }

  row(runId: number): Locator {
    return this.page.locator(`[data-testid="run-row"][data-run="${runId}"]`);
  }

  async waitForStatus(runId: number, status: string, timeout = 60_000): Promise<void> {
    await this.page
      .locator(`[data-testid="run-row"][data-run="${runId}"][data-status="${status}"]`)
      .waitFor({ timeout });
  }
}
