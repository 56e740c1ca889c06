import type { Locator, Page } from 'playwright-core';
import { decodePng } from '../../../src/main/data/png';
import { AppShell } from './AppShell';

export interface ImagePoint {
  x: number;
  y: number;
}

/** The annotator, in the user's steps: points are image pixels, turned into mouse positions here. */
export class AnnotatePage {
  readonly shell: AppShell;
  readonly canvas: Locator;
  readonly saveStatus: Locator;
  readonly position: Locator;
  readonly boxList: Locator;
  readonly error: Locator;

  constructor(readonly page: Page) {
    this.shell = new AppShell(page);
    this.canvas = page.getByTestId('canvas');
    this.saveStatus = page.getByTestId('save-status');
    this.position = page.getByTestId('image-position');
    this.boxList = page.getByTestId('box-list').locator('li');
    this.error = page.getByRole('alert');
  }

  /** Waits until the image `imageId` (any, when absent) is shown. */
  async waitForImage(imageId?: number): Promise<void> {
    const selector = imageId === undefined ? '[data-image]' : `[data-image="${imageId}"]`;
    await this.page.locator(`[data-testid="canvas"]${selector}`).waitFor();
    await this.page.waitForFunction(() => {
      const c = document.querySelector('[data-testid="canvas"]');
      return c?.querySelector('canvas') !== null;
    });
  }

  async imageId(): Promise<number> {
    return Number(await this.canvas.getAttribute('data-image'));
  }

  /** The page position of an image point under the current zoom and pan. */
  async screen(p: ImagePoint): Promise<ImagePoint> {
    const [scale, x, y] = await Promise.all(
      ['data-scale', 'data-x', 'data-y'].map(async (a) => Number(await this.canvas.getAttribute(a))),
    );
    const box = (await this.canvas.boundingBox())!;
    return { x: box.x + x! + p.x * scale!, y: box.y + y! + p.y * scale! };
  }

  async drag(from: ImagePoint, to: ImagePoint, options: { button?: 'left' | 'middle' } = {}): Promise<void> {
    const a = await this.screen(from);
    const b = await this.screen(to);
    await this.page.mouse.move(a.x, a.y);
    await this.page.mouse.down({ button: options.button ?? 'left' });
    await this.page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 4 });
    await this.page.mouse.move(b.x, b.y, { steps: 4 });
    await this.page.mouse.up({ button: options.button ?? 'left' });
  }

  async clickAt(p: ImagePoint, modifiers: ('Alt' | 'Shift')[] = []): Promise<void> {
    const s = await this.screen(p);
    for (const m of modifiers) await this.page.keyboard.down(m);
    await this.page.mouse.click(s.x, s.y);
    for (const m of modifiers) await this.page.keyboard.up(m);
  }

  async addCategory(name: string): Promise<void> {
    const input = this.page.getByLabel('New category');
    await input.fill(name);
    await input.press('Enter');
    await this.page
      .getByTestId('categories')
      .getByRole('button', { name: new RegExp(name) })
      .waitFor();
    await input.blur();
  }

  /** The side panel with the categories and the image's boxes. */
  get sidebar(): Locator {
    return this.page.getByTestId('annotator-sidebar');
  }

  /** A category's row in the side panel. */
  category(name: string): Locator {
    return this.page.getByTestId('categories').getByRole('button', { name: new RegExp(name) });
  }

  /** The selected box's panel: its referring expression and crowd flag. */
  get selectedBox(): Locator {
    return this.page.getByTestId('selected-box');
  }

  get expressionField(): Locator {
    return this.page.getByTestId('box-expression');
  }

  /** Types the selected box's referring expression, reaching the field by its key (E), and keeps it. */
  async typeExpression(text: string): Promise<void> {
    await this.press('e');
    await this.expressionField.and(this.page.locator(':focus')).waitFor();
    await this.page.keyboard.press('Control+a');
    await this.page.keyboard.press('Backspace');
    await this.page.keyboard.type(text);
    await this.page.keyboard.press('Enter');
  }

  /** The image's label in the toolbar. */
  get imageLabel(): Locator {
    return this.page.getByTestId('image-label');
  }

  /** Sets the image's label from the toolbar ('none' clears it). */
  async setImageLabel(category: string): Promise<void> {
    const option = this.imageLabel.locator('option').filter({ hasText: new RegExp(`^${category}\\b`) });
    await this.imageLabel.selectOption((await option.getAttribute('value')) ?? '');
  }

  /** The `?` sheet's shortcuts. */
  get shortcuts(): Locator {
    return this.page.getByTestId('shortcut');
  }

  /** The colour on screen at a page point, as [r, g, b]. */
  async pixel(p: ImagePoint): Promise<[number, number, number]> {
    const png = decodePng(
      await this.page.screenshot({ clip: { x: Math.round(p.x), y: Math.round(p.y), width: 1, height: 1 } }),
    );
    return [png.rgb[0]!, png.rgb[1]!, png.rgb[2]!];
  }

  async press(keys: string): Promise<void> {
    await this.page.keyboard.press(keys);
  }

  async waitSaved(): Promise<void> {
    await this.page.locator('[data-testid="save-status"]:text-is("Saved")').waitFor();
  }
}
