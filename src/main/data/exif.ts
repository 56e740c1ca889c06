/**
 * EXIF orientation: reading the tag out of a TIFF block (a JPEG's APP1 "Exif" segment, a WebP EXIF
 * chunk) and turning stored pixels upright. Cameras store sensor rows as read and record how to
 * turn them; viewers, browsers and annotation tools show the turned image, so that is the image
 * our boxes are drawn on.
 */
import type { Size } from '../../shared/boxes';

/** 1 = upright; 2–4 mirror or turn half-way; 5–8 turn a quarter, so width and height swap. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const orientationTag = 0x0112;

/**
 * The orientation in a TIFF block, or 1 when it has none. A damaged EXIF block is not a damaged
 * image (browsers ignore it too), so anything unreadable here also means 1.
 */
export function tiffOrientation(tiff: Uint8Array): Orientation {
  if (tiff.length < 8) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const order = String.fromCharCode(tiff[0]!, tiff[1]!);
  if (order !== 'II' && order !== 'MM') return 1;
  const little = order === 'II';
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) !== orientationTag) continue;
    const value = view.getUint16(entry + 8, little); // a SHORT, stored left-justified in the value field
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

export function swapsSides(orientation: Orientation): boolean {
  return orientation >= 5;
}

/** The size an image is shown at once its orientation is applied. */
export function displayedSize(stored: Size, orientation: Orientation): Size {
  return swapsSides(orientation) ? { width: stored.height, height: stored.width } : stored;
}

/**
 * RGB pixels turned upright. For each displayed pixel (dx, dy) the stored pixel it shows, from the
 * EXIF definition of where the stored 0th row and 0th column end up (e.g. 6: the 0th row is the
 * right-hand side and the 0th column the top, i.e. the stored image turned 90° clockwise).
 */
export function applyOrientation(
  image: { width: number; height: number; rgb: Uint8Array },
  orientation: Orientation,
): { width: number; height: number; rgb: Uint8Array } {
  if (orientation === 1) return image;
  const { width: w, height: h, rgb } = image;
  const out = displayedSize({ width: w, height: h }, orientation);
  const source = sourceOf(orientation, w, h);
  const turned = new Uint8Array(rgb.length);
  for (let dy = 0; dy < out.height; dy++) {
    for (let dx = 0; dx < out.width; dx++) {
      const [sx, sy] = source(dx, dy);
      const from = (sy * w + sx) * 3;
      const to = (dy * out.width + dx) * 3;
      turned[to] = rgb[from]!;
      turned[to + 1] = rgb[from + 1]!;
      turned[to + 2] = rgb[from + 2]!;
    }
  }
  return { ...out, rgb: turned };
}

function sourceOf(
  orientation: Orientation,
  w: number,
  h: number,
): (dx: number, dy: number) => [number, number] {
  switch (orientation) {
    case 2:
      return (dx, dy) => [w - 1 - dx, dy];
    case 3:
      return (dx, dy) => [w - 1 - dx, h - 1 - dy];
    case 4:
      return (dx, dy) => [dx, h - 1 - dy];
    case 5:
      return (dx, dy) => [dy, dx];
    case 6:
      return (dx, dy) => [dy, h - 1 - dx];
    case 7:
      return (dx, dy) => [w - 1 - dy, h - 1 - dx];
    case 8:
      return (dx, dy) => [w - 1 - dy, dx];
    default:
      return (dx, dy) => [dx, dy];
  }
}
