import type { Locator, Page } from 'playwright-core';
import { AppShell } from './AppShell';

/** The Traces view: a GRPO run's steps, a step's prompts, one prompt's group of rollouts. */
export class TracesPage {
  readonly shell: AppShell;
  readonly root: Locator;
  readonly empty: Locator;
  readonly runPicker: Locator;
  readonly comparePicker: Locator;
  readonly scrubber: Locator;
  readonly stepLabel: Locator;
  readonly prompts: Locator;
  readonly groups: Locator;
  readonly search: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.root = page.getByTestId('traces');
    this.empty = page.getByTestId('traces-empty');
    this.runPicker = page.getByTestId('trace-run');
    this.comparePicker = page.getByTestId('trace-compare');
    this.scrubber = page.getByTestId('trace-scrubber');
    this.stepLabel = page.getByTestId('trace-step');
    this.prompts = page.getByTestId('trace-prompt');
    this.groups = page.getByTestId('trace-group');
    this.search = page.getByTestId('trace-search');
  }

  /** Opens Traces from the nav. The view writes the run and step it opens into the URL
   *  (`#/traces/RUN/STEP`), possibly before a wait for the bare `#/traces` could see it. */
  async open(): Promise<void> {
    await this.page.getByTestId('nav-traces').click();
    await this.page.waitForURL(/#\/traces(\/|$)/);
    await this.root.waitFor();
  }

  /** Opens `#/traces/RUN[/STEP]` directly, as a warning's link does. */
  async openAt(url: string, runId: number, step?: number): Promise<void> {
    const base = url.split('#')[0]!;
    await this.page.goto(`${base}#/traces/${runId}${step === undefined ? '' : `/${step}`}`);
    await this.shell.waitConnected();
    await this.root.waitFor();
  }

  async pickRun(runId: number): Promise<void> {
    await this.runPicker.selectOption(String(runId));
  }

  async compareWith(runId: number): Promise<void> {
    await this.comparePicker.selectOption(String(runId));
  }

  /** The step the view shows, from its "step N / M" label. */
  async step(): Promise<number> {
    await this.stepLabel.waitFor();
    return Number(/step (\d+)/.exec((await this.stepLabel.textContent()) ?? '')?.[1]);
  }

  /** Drags the scrubber to the step at `index` (0-based among the run's steps). */
  async scrubTo(index: number): Promise<void> {
    await this.scrubber.fill(String(index));
  }

  async openPrompt(promptKey: string): Promise<void> {
    await this.prompts.filter({ hasText: promptKey }).click();
  }

  /** The group shown for a run (the first is the picked run's; a compared run's is second). */
  group(index = 0): Locator {
    return this.groups.nth(index);
  }

  cards(group: Locator): Locator {
    return group.getByTestId('rollout-card');
  }

  /** Each card's sample index, total reward, advantage and reward components as the cards show them. */
  async cardNumbers(
    group: Locator,
  ): Promise<{ sample: number; reward: string; advantage: string; components: Record<string, string> }[]> {
    return group.getByTestId('rollout-card').evaluateAll((cards) =>
      cards.map((card) => ({
        sample: Number(card.getAttribute('data-sample')),
        reward: card.querySelector('[data-testid="rollout-reward"]')?.textContent?.trim() ?? '',
        advantage: card.querySelector('[data-testid="rollout-advantage"]')?.textContent?.trim() ?? '',
        components: Object.fromEntries(
          Array.from(card.querySelectorAll('[data-testid^="reward-"]')).map((el) => [
            el.getAttribute('data-testid')!.slice('reward-'.length),
            el.textContent?.trim() ?? '',
          ]),
        ),
      })),
    );
  }

  async searchFor(options: { sort?: string; filters?: string[]; text?: string }): Promise<void> {
    if (options.sort) await this.search.getByRole('combobox').selectOption(options.sort);
    for (const f of options.filters ?? []) await this.search.getByLabel(f).check();
    if (options.text !== undefined) await this.search.getByRole('searchbox').fill(options.text);
  }

  hits(): Locator {
    return this.page.getByTestId('search-hit');
  }
}
