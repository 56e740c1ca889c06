import type { Locator, Page } from 'playwright-core';

export type ViewName = 'datasets' | 'annotate' | 'train' | 'compare' | 'traces';

/** The frame around every view: the left navigation and the status bar. */
export class AppShell {
  readonly connection: Locator;
  readonly backend: Locator;

  constructor(readonly page: Page) {
    this.connection = page.getByTestId('connection');
    this.backend = page.getByTestId('backend');
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.waitConnected();
  }

  async waitConnected(): Promise<void> {
    await this.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
  }

  async goTo(view: ViewName): Promise<void> {
    await this.page.getByTestId(`nav-${view}`).click();
    await this.page.waitForURL(new RegExp(`#/${view}$`));
  }

  currentNav(): Locator {
    return this.page.locator('nav a[aria-current="page"]');
  }
}

/** A view whose capability has not landed yet: it says what will fill it. */
export class PlaceholderView {
  readonly shell: AppShell;
  readonly placeholder: Locator;

  constructor(
    readonly page: Page,
    readonly view: ViewName,
    readonly title: string,
  ) {
    this.shell = new AppShell(page);
    this.placeholder = page.getByTestId('placeholder');
  }

  async open(): Promise<void> {
    await this.shell.goTo(this.view);
    await this.page.getByRole('heading', { name: this.title }).waitFor();
  }
}
