import type { Page } from 'playwright-core';
import { PlaceholderView } from './AppShell';

/** The Compare view (filled by a later capability). */
export class ComparePage extends PlaceholderView {
  constructor(page: Page) {
    super(page, 'compare', 'Compare');
  }
}
