import type { Page } from 'playwright-core';
import { PlaceholderView } from './AppShell';

/** The Train view (filled by a later capability). */
export class TrainPage extends PlaceholderView {
  constructor(page: Page) {
    super(page, 'train', 'Train');
  }
}
