/**
 * Coordinate frames and box formats, in one module. Boxes are stored in original-image pixels,
 * xyxy; every other frame is a conversion at the boundary that needs it:
 * - `norm1000`: integers on 0–1000 across each axis (Visual-RFT, Qwen2-VL box tokens);
 * - `resized`: pixels of the model's resized input (Qwen2.5-VL's absolute coordinates);
 * - `pixels`: the original image.
 * COCO boxes are [x, y, w, h] pixels; YOLO boxes are [cx, cy, w, h] normalised to 0–1.
 */
import { smartResize } from '../models/qwen2-vl/processor';
import type { Box, Size } from '../../shared/boxes';

export const frames = ['norm1000', 'resized', 'pixels'] as const;
export type Frame = (typeof frames)[number];

export interface FrameSizes {
  /** The original image. */
  image: Size;
  /** The model's resized input; needed for the `resized` frame. */
  resized?: Size;
}

/** The width and height a frame's coordinates run over. */
export function frameExtent(frame: Frame, sizes: FrameSizes): Size {
  if (frame === 'norm1000') return { width: 1000, height: 1000 };
  if (frame === 'pixels') return sizes.image;
  if (!sizes.resized) throw new Error('the resized frame needs the resized input size');
  return sizes.resized;
}

export function toPixels(box: Box, frame: Frame, sizes: FrameSizes): Box {
  const extent = frameExtent(frame, sizes);
  const sx = sizes.image.width / extent.width;
  const sy = sizes.image.height / extent.height;
  return { x1: box.x1 * sx, y1: box.y1 * sy, x2: box.x2 * sx, y2: box.y2 * sy };
}

export function fromPixels(box: Box, frame: Frame, sizes: FrameSizes): Box {
  const extent = frameExtent(frame, sizes);
  const sx = extent.width / sizes.image.width;
  const sy = extent.height / sizes.image.height;
  return { x1: box.x1 * sx, y1: box.y1 * sy, x2: box.x2 * sx, y2: box.y2 * sy };
}

/** A box in a frame the way a model writes it: rounded to whole numbers. */
export function fromPixelsRounded(box: Box, frame: Frame, sizes: FrameSizes): Box {
  const b = fromPixels(box, frame, sizes);
  return { x1: Math.round(b.x1), y1: Math.round(b.y1), x2: Math.round(b.x2), y2: Math.round(b.y2) };
}

export function cocoToBox([x, y, w, h]: readonly number[]): Box {
  return { x1: x ?? 0, y1: y ?? 0, x2: (x ?? 0) + (w ?? 0), y2: (y ?? 0) + (h ?? 0) };
}

export function boxToCoco(b: Box): [number, number, number, number] {
  return [b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1];
}

export function yoloToBox([cx, cy, w, h]: readonly number[], image: Size): Box {
  const [x, y, bw, bh] = [
    (cx ?? 0) * image.width,
    (cy ?? 0) * image.height,
    (w ?? 0) * image.width,
    (h ?? 0) * image.height,
  ];
  return { x1: x - bw / 2, y1: y - bh / 2, x2: x + bw / 2, y2: y + bh / 2 };
}

export function boxToYolo(b: Box, image: Size): [number, number, number, number] {
  return [
    (b.x1 + b.x2) / 2 / image.width,
    (b.y1 + b.y2) / 2 / image.height,
    (b.x2 - b.x1) / image.width,
    (b.y2 - b.y1) / image.height,
  ];
}

export interface ResizeLimits {
  factor?: number;
  minPixels?: number;
  maxPixels?: number;
}

/**
 * The input size Qwen2-VL / Qwen2.5-VL's image processor resizes an image to (transformers'
 * `smart_resize`, the processor's own): each side a multiple of 28, the area within
 * [minPixels, maxPixels]. The defaults are the released checkpoints' preprocessor_config.json values.
 */
export function qwenResizedSize(image: Size, limits: ResizeLimits = {}): Size {
  const { factor = 28, minPixels = 56 * 56, maxPixels = 28 * 28 * 16384 } = limits;
  return smartResize(image.height, image.width, factor, minPixels, maxPixels);
}
