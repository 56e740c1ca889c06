import type { Locator, Page } from 'playwright-core';

/** The Train form's "Run on a cluster" dialog: export a GRPO run as a TRL project, then its commands. */
export class ClusterDialogPage {
  readonly dialog: Locator;
  readonly error: Locator;
  /** "Run #N (…) is exported to …", once exported. */
  readonly exported: Locator;
  readonly url: Locator;

  constructor(readonly page: Page) {
    this.dialog = page.getByTestId('cluster-dialog');
    this.error = this.dialog.getByTestId('cluster-error');
    this.exported = this.dialog.getByTestId('cluster-exported');
    this.url = this.dialog.getByTestId('cluster-url');
  }

  /** Fills the settings and presses Export; waits for the commands or the error that says why not. */
  async export(settings: {
    out: string;
    gpus?: number;
    deepspeed?: 'none' | 'zero2' | 'zero3';
    vllm?: boolean;
  }): Promise<void> {
    await this.dialog.getByTestId('cluster-out').fill(settings.out);
    if (settings.gpus !== undefined)
      await this.dialog.getByTestId('cluster-gpus').fill(String(settings.gpus));
    if (settings.deepspeed)
      await this.dialog.getByTestId('cluster-deepspeed').selectOption(settings.deepspeed);
    if (settings.vllm !== undefined) await this.dialog.getByTestId('cluster-vllm').setChecked(settings.vllm);
    await this.dialog.getByRole('button', { name: 'Export' }).click();
    await this.exported.or(this.error).waitFor();
  }

  /** A command the dialog shows after the export: server, tunnel, install or launch. */
  command(which: 'server' | 'tunnel' | 'install' | 'launch'): Locator {
    return this.dialog.getByTestId(`command-${which}`);
  }

  async commandText(which: 'server' | 'tunnel' | 'install' | 'launch'): Promise<string> {
    return (await this.command(which).locator('code').textContent()) ?? '';
  }

  async done(): Promise<void> {
    await this.dialog.getByTestId('cluster-done').click();
    await this.dialog.waitFor({ state: 'detached' });
  }
}
