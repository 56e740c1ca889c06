import type { Page } from 'playwright-core';
import { PlaceholderView } from './AppShell';

/** The Traces view (filled by a later capability). */
export class TracesPage extends PlaceholderView {
  constructor(page: Page) {
    super(page, 'traces', 'Traces');
  }
}
