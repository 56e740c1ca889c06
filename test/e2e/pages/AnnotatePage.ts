import type { Page } from 'playwright-core';
import { PlaceholderView } from './AppShell';

/** The Annotate view (filled by a later capability). */
export class AnnotatePage extends PlaceholderView {
  constructor(page: Page) {
    super(page, 'annotate', 'Annotate');
  }
}
