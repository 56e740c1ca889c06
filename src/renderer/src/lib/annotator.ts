/**
 * The annotator's geometry and history, free of Konva and Svelte so they are unit-tested alone.
 * Boxes are original-image pixels, xyxy (the stored frame); the view maps them to the screen by a
 * uniform scale and an offset: screen = image · scale + offset.
 */

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** A point on the screen (stage pixels) or in the image, by context. */
export interface Point {
  x: number;
  y: number;
}

export interface View {
  scale: number;
  x: number;
  y: number;
}

export interface Size {
  width: number;
  height: number;
}

export const minScale = 0.02;
export const maxScale = 64;

export function toImage(view: View, point: { x: number; y: number }): { x: number; y: number } {
  return { x: (point.x - view.x) / view.scale, y: (point.y - view.y) / view.scale };
}

/** The whole image centred in the viewport with a margin. */
export function fitView(image: Size, viewport: Size, margin = 16): View {
  const scale = Math.max(
    minScale,
    Math.min((viewport.width - 2 * margin) / image.width, (viewport.height - 2 * margin) / image.height),
  );
  return {
    scale,
    x: (viewport.width - image.width * scale) / 2,
    y: (viewport.height - image.height * scale) / 2,
  };
}

/** 100 %: one image pixel per screen pixel, centred on the viewport's centre point of the image. */
export function actualSizeView(view: View, viewport: Size): View {
  return zoomAt(view, { x: viewport.width / 2, y: viewport.height / 2 }, 1 / view.scale);
}

/** Zooms by `factor` keeping the image point under `screen` where it is (zoom at the cursor). */
export function zoomAt(view: View, screen: { x: number; y: number }, factor: number): View {
  const scale = Math.min(maxScale, Math.max(minScale, view.scale * factor));
  const anchor = toImage(view, screen);
  return { scale, x: screen.x - anchor.x * scale, y: screen.y - anchor.y * scale };
}

/** The wheel's zoom factor: smooth for trackpads, one notch ≈ 10 %. */
export function wheelFactor(deltaY: number): number {
  return Math.exp(-Math.max(-300, Math.min(300, deltaY)) * 0.001);
}

/** The box spanned by two corners in any order, clamped to the image. */
export function spanBox(a: { x: number; y: number }, b: { x: number; y: number }, image: Size): Box {
  const clampX = (v: number) => Math.max(0, Math.min(image.width, v));
  const clampY = (v: number) => Math.max(0, Math.min(image.height, v));
  return {
    x1: clampX(Math.min(a.x, b.x)),
    y1: clampY(Math.min(a.y, b.y)),
    x2: clampX(Math.max(a.x, b.x)),
    y2: clampY(Math.max(a.y, b.y)),
  };
}

/** Rounds to 1/100 px (what a person can place) and keeps the box inside the image. */
export function tidyBox(box: Box, image: Size): Box {
  const r = (v: number) => Math.round(v * 100) / 100;
  const b = spanBox({ x: box.x1, y: box.y1 }, { x: box.x2, y: box.y2 }, image);
  return { x1: r(b.x1), y1: r(b.y1), x2: r(b.x2), y2: r(b.y2) };
}

/** Moves a box by (dx, dy) image pixels without letting it leave the image or change size. */
export function moveBox(box: Box, dx: number, dy: number, image: Size): Box {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  const x1 = Math.max(0, Math.min(image.width - w, box.x1 + dx));
  const y1 = Math.max(0, Math.min(image.height - h, box.y1 + dy));
  return { x1, y1, x2: x1 + w, y2: y1 + h };
}

/** A drawn box smaller than this on screen is a click, not a box. */
export function isTooSmall(box: Box, scale: number, minScreenPx = 3): boolean {
  return (box.x2 - box.x1) * scale < minScreenPx || (box.y2 - box.y1) * scale < minScreenPx;
}

export interface BoxItem {
  categoryId: number;
  box: Box;
  /** Its referring expression ('' or absent: none); undo and copy keep it. */
  expression?: string;
  crowd?: boolean;
}

/**
 * Undo / redo of one image's boxes as whole snapshots (an image has few boxes; snapshots make
 * every undo exact, whatever the edit was).
 */
export class History {
  private readonly undoStack: BoxItem[][] = [];
  private readonly redoStack: BoxItem[][] = [];

  constructor(private readonly limit = 200) {}

  /** Call with the boxes as they were before an edit. */
  record(before: BoxItem[]): void {
    this.undoStack.push(before);
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack.length = 0;
  }

  /** The boxes to restore, given the boxes now; undefined when there is nothing to undo. */
  undo(now: BoxItem[]): BoxItem[] | undefined {
    const previous = this.undoStack.pop();
    if (previous) this.redoStack.push(now);
    return previous;
  }

  redo(now: BoxItem[]): BoxItem[] | undefined {
    const next = this.redoStack.pop();
    if (next) this.undoStack.push(now);
    return next;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }
}

/** A colour per category that stays the same for a category whatever the others are. */
export function categoryColor(category: { id: number; color: string | null }): string {
  if (category.color) return category.color;
  const palette = [
    '#e6194b',
    '#3cb44b',
    '#4363d8',
    '#f58231',
    '#911eb4',
    '#42d4f4',
    '#f032e6',
    '#bfef45',
    '#fabed4',
    '#469990',
    '#dcbeff',
    '#9a6324',
    '#800000',
    '#aaffc3',
    '#808000',
    '#000075',
  ];
  return palette[(category.id - 1) % palette.length]!;
}

/** `#rrggbb` as an rgba() colour with this opacity (a selected box's fill). */
export function translucent(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1, 7), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** Black or white, whichever reads better on `hex` (WCAG relative luminance). */
export function textColorOn(hex: string): '#000000' | '#ffffff' {
  const n = Number.parseInt(hex.slice(1, 7), 16);
  const linear = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * linear[0]! + 0.7152 * linear[1]! + 0.0722 * linear[2]!;
  // Contrast with black (L + 0.05) / 0.05 beats contrast with white 1.05 / (L + 0.05) above L ≈ 0.179.
  return luminance > 0.179 ? '#000000' : '#ffffff';
}

/**
 * Where a box's label goes, in image pixels: on the box's top edge, just above it, unless the box
 * touches the image's top — then just inside it, so the label never leaves the image.
 */
export function labelPlacement(box: Box, labelHeight: number): Point {
  return { x: box.x1, y: box.y1 >= labelHeight ? box.y1 - labelHeight : box.y1 };
}

/** A text cut to `max` characters at a word where it can be, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * A box's label on the canvas: its referring expression in quotes (a REC item) when it has one,
 * else its category's name; a crowd says so.
 */
export function boxLabel(categoryName: string, box: { expression: string; crowd: boolean }): string {
  const label = box.expression ? `“${truncate(box.expression, 40)}”` : categoryName;
  return box.crowd ? `${label} · crowd` : label;
}

export interface Shortcut {
  keys: string;
  action: string;
}

/** The shortcuts sheet (`?`) and the key handling read from this one list. */
export const shortcuts: Shortcut[] = [
  { keys: 'W or B', action: 'Draw mode on/off (stays on after each box)' },
  { keys: 'Drag, or click twice', action: 'Draw a box (in draw mode)' },
  { keys: 'Alt + click', action: 'Select a box while drawing' },
  { keys: 'Esc', action: 'Cancel the box being drawn, then leave draw mode' },
  { keys: 'Tab / Shift + Tab', action: 'Select the next / previous box' },
  { keys: 'Del / Backspace', action: 'Delete the selected box' },
  { keys: 'Arrows (Shift: 10 px)', action: 'Nudge the selected box by 1 image pixel' },
  { keys: 'Wheel / Ctrl + wheel', action: 'Zoom at the cursor' },
  { keys: 'Space + drag, middle mouse', action: 'Pan' },
  { keys: '0', action: 'Fit the image' },
  { keys: 'Ctrl + 1', action: '100 %' },
  { keys: '1 – 9', action: "Pick the next box's category (and move a box you selected to it)" },
  { keys: 'D / A', action: 'Next / previous image' },
  { keys: 'Ctrl + Z / Ctrl + Shift + Z', action: 'Undo / redo (per image)' },
  { keys: 'Ctrl + Shift + V', action: "Copy the previous image's boxes" },
  { keys: 'H', action: 'Hide / show boxes' },
  { keys: 'V', action: 'Mark verified' },
  { keys: 'N', action: 'Mark "no objects" (a negative image)' },
  { keys: 'E', action: "Type the selected box's referring expression (Enter keeps it)" },
  { keys: 'Shift + 1 – 9', action: "Set the image's label (again: clear it)" },
  { keys: '/', action: 'Search categories' },
  { keys: '?', action: 'This sheet' },
];
