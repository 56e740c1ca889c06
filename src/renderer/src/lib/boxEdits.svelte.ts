/**
 * The boxes of the image open in the annotator, and every edit to them. An edit shows at once, is
 * sent to the host through one queue (so a box is saved before it is moved or deleted) and is
 * recorded in the image's undo history as a whole snapshot, so every edit undoes exactly.
 */
import type { Annotation, ImageListing } from '../../../shared/contract';
import { client } from './client';
import { History, moveBox, tidyBox, type Box, type BoxItem } from './annotator';

export class BoxEdits {
  boxes = $state<Annotation[]>([]);
  #selectedId = $state<number | undefined>();
  /**
   * True while the selection is the box just drawn (selected so its handles can adjust it) rather
   * than one the user picked: a category key then sets the next box's category, not this one's.
   */
  justDrawn = $state(false);
  /** Edits sent and not yet saved. */
  pending = $state(0);
  private image: ImageListing | undefined;
  // Bookkeeping, not state the page shows: plain maps on purpose.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly histories = new Map<number, History>();
  /** Boxes drawn but not yet saved carry a negative id until the host returns the real one. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly realIds = new Map<number, number>();
  private nextTempId = -1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly fail: (e: unknown) => void) {}

  get selectedId(): number | undefined {
    return this.#selectedId;
  }

  /** A selection the user made (click, Alt+click, Tab, the box list). */
  set selectedId(id: number | undefined) {
    this.#selectedId = id;
    this.justDrawn = false;
  }

  /** Resolves once every edit sent so far has been saved (or refused). */
  settled(): Promise<unknown> {
    return this.queue;
  }

  /** Shows an image's boxes as the host has them. */
  open(image: ImageListing, boxes: Annotation[]): void {
    this.image = image;
    this.boxes = boxes;
    this.selectedId = undefined;
  }

  add(box: Box, categoryId: number): void {
    if (!this.image) return;
    const tidy = tidyBox(box, this.image);
    this.history().record(this.snapshot());
    const temp = this.nextTempId--;
    const imageId = this.image.id;
    this.boxes = [
      ...this.boxes,
      { id: temp, imageId, categoryId, ...tidy, expression: '', crowd: false, source: 'human' },
    ];
    this.#selectedId = temp;
    this.justDrawn = true;
    void this.save(async () => {
      const saved = await client.call('annotations.add', { imageId, categoryId, box: tidy });
      this.realIds.set(temp, saved.id);
      this.boxes = this.boxes.map((b) => (b.id === temp ? saved : b));
      if (this.#selectedId === temp) this.#selectedId = saved.id;
    });
  }

  change(id: number, change: { box?: Box; categoryId?: number; expression?: string; crowd?: boolean }): void {
    if (!this.image || !this.boxes.some((b) => b.id === id)) return;
    const box = change.box ? tidyBox(change.box, this.image) : undefined;
    const { categoryId, expression, crowd } = change;
    this.history().record(this.snapshot());
    this.boxes = this.boxes.map((b) =>
      b.id === id
        ? {
            ...b,
            ...box,
            categoryId: categoryId ?? b.categoryId,
            expression: expression ?? b.expression,
            crowd: crowd ?? b.crowd,
          }
        : b,
    );
    void this.save(() =>
      client.call('annotations.update', { id: this.realId(id), box, categoryId, expression, crowd }),
    );
  }

  /**
   * Sets a box's referring expression ('' clears it): one undo step per expression committed (the
   * field commits on Enter or when it loses focus, not per keystroke).
   */
  setExpression(id: number, text: string): void {
    const expression = text.trim();
    const b = this.find(id);
    if (b && b.expression !== expression) this.change(b.id, { expression });
  }

  /** Marks a box as a crowd (COCO's iscrowd) or not. */
  setCrowd(id: number, crowd: boolean): void {
    const b = this.find(id);
    if (b && b.crowd !== crowd) this.change(b.id, { crowd });
  }

  /** A box by its id, or by the id it had before it was saved (a field may still hold that one). */
  private find(id: number): Annotation | undefined {
    return this.boxes.find((b) => b.id === id) ?? this.boxes.find((b) => b.id === this.realIds.get(id));
  }

  /** Selects the next box (or the previous one), wrapping; with none selected, the first (or last). */
  selectNext(backwards: boolean): void {
    const { boxes } = this;
    if (boxes.length === 0) return;
    const at = boxes.findIndex((b) => b.id === this.selectedId);
    const next =
      at < 0 ? (backwards ? boxes.length - 1 : 0) : (at + (backwards ? -1 : 1) + boxes.length) % boxes.length;
    this.selectedId = boxes[next]!.id;
  }

  /** Moves the selected box by (dx, dy) pixels, kept inside the image. */
  nudgeSelected(dx: number, dy: number): void {
    const b = this.boxes.find((x) => x.id === this.selectedId);
    if (b && this.image) this.change(b.id, { box: moveBox(b, dx, dy, this.image) });
  }

  deleteSelected(): void {
    if (this.selectedId === undefined) return;
    const id = this.selectedId;
    this.history().record(this.snapshot());
    this.boxes = this.boxes.filter((b) => b.id !== id);
    this.selectedId = undefined;
    void this.save(() => client.call('annotations.delete', { id: this.realId(id) }));
  }

  /** Adds boxes (copied from another image), clamped to this one; degenerate ones are dropped. */
  append(items: BoxItem[]): void {
    if (!this.image) return;
    const size = this.image;
    const kept = items
      .map((b) => ({ ...b, box: tidyBox(b.box, size) }))
      .filter((b) => b.box.x2 > b.box.x1 && b.box.y2 > b.box.y1);
    this.history().record(this.snapshot());
    this.restore([...this.snapshot(), ...kept]);
  }

  undo(): void {
    const items = this.image && this.history().undo(this.snapshot());
    if (items) this.restore(items);
  }

  redo(): void {
    const items = this.image && this.history().redo(this.snapshot());
    if (items) this.restore(items);
  }

  /** Runs edits one after another; a refused one shows the error and what the host holds. */
  private save<T>(edit: () => Promise<T>): Promise<T | undefined> {
    this.pending++;
    const result = this.queue.then(edit).then(
      (value) => value,
      async (e: unknown) => {
        this.fail(e);
        const image = this.image;
        if (image)
          this.boxes = await client.call('annotations.list', { imageId: image.id }).catch(() => this.boxes);
        return undefined;
      },
    );
    this.queue = result.finally(() => this.pending--);
    return result;
  }

  /** Replaces the image's boxes with a snapshot (undo, redo, append). */
  private restore(items: BoxItem[]): void {
    if (!this.image) return;
    const imageId = this.image.id;
    this.selectedId = undefined;
    this.boxes = items.map((b, i) => ({
      id: this.nextTempId - i,
      imageId,
      categoryId: b.categoryId,
      ...b.box,
      expression: b.expression ?? '',
      crowd: b.crowd ?? false,
      source: 'human',
    }));
    this.nextTempId -= items.length;
    void this.save(async () => {
      const saved = await client.call('annotations.replace', { imageId, boxes: items });
      if (this.image?.id === imageId) this.boxes = saved;
    });
  }

  private realId(id: number): number {
    return id < 0 ? (this.realIds.get(id) ?? id) : id;
  }

  private snapshot(): BoxItem[] {
    return this.boxes.map((b) => ({
      categoryId: b.categoryId,
      box: { x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 },
      expression: b.expression,
      crowd: b.crowd,
    }));
  }

  private history(): History {
    const id = this.image!.id;
    let h = this.histories.get(id);
    if (!h) this.histories.set(id, (h = new History()));
    return h;
  }
}
