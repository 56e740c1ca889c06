import type { Locator, Page } from 'playwright-core';
import { AppShell } from './AppShell';

/** The Train view: start runs from the form, watch them, evaluate them, draw their curves. */
export class TrainPage {
  readonly shell: AppShell;
  readonly form: Locator;
  readonly error: Locator;
  readonly curves: Locator;
  /** What the picked model folder holds ("Qwen2-VL · 2 layers · hidden 64"), with its kind. */
  readonly modelInfo: Locator;
  /** Why the picked folder is not a model, shown before Start. */
  readonly modelError: Locator;
  readonly qwenSettings: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.form = page.getByTestId('start-run');
    this.error = this.form.getByTestId('error');
    this.curves = page.getByTestId('run-curves');
    this.modelInfo = this.form.getByTestId('model-info');
    this.modelError = this.form.getByTestId('model-error');
    this.qwenSettings = this.form.getByTestId('qwen-settings');
  }

  /** Types a model folder and waits until the form says what it holds, or why it is not a model. */
  async pickModel(folder: string): Promise<void> {
    await this.form.getByTestId('pick-model').fill(folder);
    await this.modelInfo.or(this.modelError).waitFor();
  }

  /** A setting's field: the main settings by key, the Qwen ones as "lora.r", "freezeVisionTower", …. */
  setting(key: string): Locator {
    return this.form.locator(`input[data-setting="${key}"]`);
  }

  async open(): Promise<void> {
    await this.shell.goTo('train');
    await this.form.waitFor();
  }

  /** Picks the option of a select whose text starts with `text` (options read "name (kind, n images)"). */
  private async pick(testId: string, text: string): Promise<void> {
    const select = this.form.getByTestId(testId);
    await select.locator('option', { hasText: text }).first().waitFor({ state: 'attached' });
    const label = (await select.locator('option').allTextContents()).find(
      (t) => t.trim() === text || t.trim().startsWith(`${text} (`),
    );
    if (label === undefined) throw new Error(`no option "${text}" in ${testId}`);
    await select.selectOption({ label: label.trim() });
  }

  /**
   * Fills the form as a user would: method, dataset, split, model, name and the settings with a
   * field (numbers, and the Qwen fields: "lora.r", "freezeVisionTower", …) from `config`; whatever
   * has no field goes in the advanced JSON editor.
   */
  async start(
    method: 'GRPO' | 'SFT',
    config: Record<string, unknown> & {
      dataset?: string;
      split?: string;
      evalSplit?: string;
      model?: string;
    },
    name?: string,
  ): Promise<void> {
    await this.form.getByRole('radio', { name: method, exact: true }).click();
    const { dataset, split, evalSplit, model, ...rest } = config;
    if (dataset) await this.pick('pick-dataset', dataset);
    await this.pick('pick-split', split ?? 'all images');
    if (evalSplit) await this.pick('pick-eval-split', evalSplit);
    if (model) await this.pickModel(model);
    if (name) await this.form.getByTestId('run-name').fill(name);
    const advanced: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) {
      const field = this.setting(key);
      const found = (await field.count()) === 1;
      if (found && typeof value === 'boolean') await field.setChecked(value);
      else if (found && (typeof value === 'number' || (typeof value === 'string' && key.includes('.'))))
        await field.fill(String(value));
      else advanced[key] = value;
    }
    if (Object.keys(advanced).length > 0) {
      const details = this.form.locator('details');
      if (!(await details.getAttribute('open'))) await details.locator('summary').click();
      await this.form.getByLabel('Advanced settings (JSON)').fill(JSON.stringify(advanced));
    }
    await this.form.getByRole('button', { name: `Start ${method} run` }).click();
  }

  /** The default a setting's field shows before the user types. */
  /** A setting's default as its placeholder shows it, once the host's defaults have arrived. */
  async defaultOf(setting: string): Promise<string | null> {
    const input = this.form.locator(`input[data-setting="${setting}"]`);
    await input.and(this.page.locator(':not([placeholder=""])')).waitFor();
    return input.getAttribute('placeholder');
  }

  row(runId: number): Locator {
    return this.page.locator(`[data-testid="run-row"][data-run="${runId}"]`);
  }

  async waitForStatus(runId: number, status: string, timeout = 60_000): Promise<void> {
    await this.page
      .locator(`[data-testid="run-row"][data-run="${runId}"][data-status="${status}"]`)
      .waitFor({ timeout });
  }

  /** Opens a run's evaluation panel and starts evaluating it on `split` ('final' model or a checkpoint step). */
  async evaluate(runId: number, split: string, weights: 'final' | number = 'final'): Promise<void> {
    await this.row(runId).getByTestId('evaluate').click();
    const panel = this.page.getByTestId('evaluate-panel');
    await panel.waitFor();
    const splitSelect = panel.getByTestId('evaluate-split');
    await splitSelect.locator('option', { hasText: split }).first().waitFor({ state: 'attached' });
    const label = (await splitSelect.locator('option').allTextContents()).find((t) =>
      t.startsWith(`${split} (`),
    )!;
    await splitSelect.selectOption({ label });
    const weightsSelect = panel.getByTestId('evaluate-weights');
    await weightsSelect
      .locator('option', { hasText: weights === 'final' ? 'final model' : `step ${weights}` })
      .first()
      .waitFor({ state: 'attached' });
    await weightsSelect.selectOption(weights === 'final' ? 'final' : String(weights));
    await panel.getByRole('button', { name: 'Start evaluation' }).click();
    await panel.waitFor({ state: 'detached' });
  }

  experiment(id: number): Locator {
    return this.page.locator(`[data-testid="experiment"][data-experiment="${id}"]`);
  }

  async stopExperiment(id: number): Promise<void> {
    await this.experiment(id).getByRole('button', { name: 'Stop' }).click();
  }

  /** Ticks a run for the curves. */
  async chart(runId: number): Promise<void> {
    const box = this.row(runId).getByRole('checkbox');
    if (!(await box.isChecked())) await box.check();
  }

  /** The charts drawn, by metric name. */
  chartOf(metric: string): Locator {
    return this.curves.locator(`[data-testid="curves"][data-title="${metric}"]`);
  }
}
