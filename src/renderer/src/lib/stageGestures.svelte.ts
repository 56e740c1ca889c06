/**
 * What the pointer does on the annotator's stage: pan (middle button, or Space + drag), draw a box
 * (drag, or click twice: the first click leaves a corner, the second closes the box), or select a
 * box (Alt+click in draw mode, any click outside it). It keeps the drawing's corner, its draft and
 * the crosshair's place; the view it works in and what becomes of a drawn box are the annotator's.
 */
import type Konva from 'konva';
import { isTooSmall, spanBox, toImage, type Box, type Point, type View } from './annotator';

export interface GestureHost {
  view(): View;
  setView(next: View): void;
  size(): { width: number; height: number };
  /** Whether an image is open. */
  hasImage(): boolean;
  drawMode(): boolean;
  /** Whether Space is held (a drag pans). */
  spaceDown(): boolean;
  select(boxId: number | undefined): void;
  /** A box drawn on the image, large enough to keep. */
  draw(box: Box): void;
}

export class StageGestures {
  /** The first corner of a box being drawn. */
  anchor = $state<Point | undefined>();
  /** The box being drawn, as it would be if the pointer were released now. */
  draft = $state<Box | undefined>();
  /** Where the pointer is, in image pixels (the crosshair). */
  cursor = $state<Point | undefined>();
  private pressing = false;
  private panning: (Point & { view: View }) | undefined;

  constructor(private readonly host: GestureHost) {}

  /** Forgets a box being drawn (Escape, a new image, draw mode off). */
  cancel(): void {
    this.anchor = this.draft = undefined;
  }

  down(e: Konva.KonvaEventObject<PointerEvent>, screen: Point): void {
    const { host } = this;
    if (!host.hasImage()) return;
    const button = e.evt.button;
    if (button === 1 || (button === 0 && host.spaceDown())) {
      e.evt.preventDefault();
      this.panning = { ...screen, view: host.view() };
      return;
    }
    if (button !== 0) return;
    if (e.target.findAncestor('Transformer')) return; // a resize handle: Konva's own drag
    const boxNode = e.target.name() === 'box' ? e.target : undefined;
    if (!host.drawMode() || (boxNode && e.evt.altKey)) {
      host.select(boxNode ? Number(boxNode.id().slice(4)) : undefined);
      return;
    }
    const at = toImage(host.view(), screen);
    if (this.anchor) {
      // The second click of two-click drawing.
      const box = spanBox(this.anchor, at, host.size());
      this.cancel();
      if (!isTooSmall(box, host.view().scale)) host.draw(box);
      return;
    }
    this.anchor = at;
    this.pressing = true;
    host.select(undefined);
  }

  move(screen: Point): void {
    const { host, panning } = this;
    if (panning) {
      host.setView({
        scale: host.view().scale,
        x: panning.view.x + screen.x - panning.x,
        y: panning.view.y + screen.y - panning.y,
      });
      return;
    }
    this.cursor = toImage(host.view(), screen);
    if (this.anchor) this.draft = spanBox(this.anchor, this.cursor, host.size());
  }

  up(): void {
    if (this.panning) {
      this.panning = undefined;
      return;
    }
    if (!this.pressing) return;
    this.pressing = false;
    // A drag draws at once; a click leaves the first corner for two-click drawing.
    const { draft } = this;
    if (this.anchor && draft && !isTooSmall(draft, this.host.view().scale)) {
      this.cancel();
      this.host.draw(draft);
    }
  }
}
