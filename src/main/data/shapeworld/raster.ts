/**
 * Drawing: polygon coverage (anti-aliased), textures inside a shape, backgrounds. Images are
 * Float32Array RGB while a scene is composed and rounded to bytes once at the end.
 */
import { ringsExtent, type Ring } from './geometry';
import type { Rng } from './random';
import type { TextureName } from './vocabulary';

export type Rgb = readonly [number, number, number];

/** How much of each pixel of a window of the image a shape covers, 0..1. */
export interface Coverage {
  x0: number;
  y0: number;
  width: number;
  height: number;
  alpha: Float32Array;
}

const subScanlines = 4;

/**
 * Even-odd scan fill with 4 sub-scanlines per row and exact horizontal coverage along each one: a
 * 4-sample vertical, continuous horizontal anti-aliasing that costs O(edges + pixels) per row.
 */
export function rasterize(rings: readonly Ring[], imageWidth: number, imageHeight: number): Coverage {
  const ext = ringsExtent(rings);
  const x0 = Math.max(0, Math.floor(ext.minX));
  const y0 = Math.max(0, Math.floor(ext.minY));
  const width = Math.max(0, Math.min(imageWidth, Math.ceil(ext.maxX)) - x0);
  const height = Math.max(0, Math.min(imageHeight, Math.ceil(ext.maxY)) - y0);
  const alpha = new Float32Array(width * height);
  const weight = 1 / subScanlines;
  const xs: number[] = [];
  for (let row = 0; row < height; row++) {
    const offset = row * width;
    for (let s = 0; s < subScanlines; s++) {
      const sy = y0 + row + (s + 0.5) / subScanlines;
      xs.length = 0;
      for (const ring of rings) {
        const n = ring.length;
        for (let i = 0; i < n; i += 2) {
          const ay = ring[i + 1]!;
          const by = ring[(i + 3) % n]!;
          if (ay <= sy !== by <= sy) {
            const ax = ring[i]!;
            const bx = ring[(i + 2) % n]!;
            xs.push(ax + ((sy - ay) * (bx - ax)) / (by - ay) - x0);
          }
        }
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) addSpan(alpha, offset, width, xs[k]!, xs[k + 1]!, weight);
    }
  }
  for (let i = 0; i < alpha.length; i++) if (alpha[i]! > 1) alpha[i] = 1;
  return { x0, y0, width, height, alpha };
}

function addSpan(
  alpha: Float32Array,
  offset: number,
  width: number,
  from: number,
  to: number,
  weight: number,
) {
  const a = Math.max(0, from);
  const b = Math.min(width, to);
  if (b <= a) return;
  const ia = Math.floor(a);
  const ib = Math.floor(b);
  if (ia === ib) {
    alpha[offset + ia]! += (b - a) * weight;
    return;
  }
  alpha[offset + ia]! += (ia + 1 - a) * weight;
  for (let i = ia + 1; i < ib; i++) alpha[offset + i]! += weight;
  if (ib < width) alpha[offset + ib]! += (b - ib) * weight;
}

export interface Paint {
  color: Rgb;
  /** The contrasting shade stripes and dots are drawn in. */
  shade: Rgb;
  texture: TextureName;
  /** Texture frame: the shape's centre and rotation, and the pattern's period in pixels. */
  cx: number;
  cy: number;
  rotation: number;
  period: number;
}

/** A darker shade of a light colour, a lighter one of a dark colour. */
export function contrastingShade(color: Rgb): Rgb {
  const [r, g, b] = color;
  const luminance = 0.299 * r + 0.587 * g + 0.114 * b;
  if (luminance > 140) return [r * 0.45, g * 0.45, b * 0.45];
  return [r + (255 - r) * 0.6, g + (255 - g) * 0.6, b + (255 - b) * 0.6];
}

/**
 * How much of the shade a pixel centre at (u, v) — shape-local pixels — shows: stripes run at 45°
 * to the shape's axes, dots sit on a square grid with one at the centre. Edges are smoothed over a
 * pixel, the same width as the silhouette's anti-aliasing.
 */
function textureMix(texture: TextureName, u: number, v: number, period: number): number {
  if (texture === 'solid') return 0;
  let distance: number; // signed, pixels, positive inside the pattern
  if (texture === 'striped') {
    const w = (u + v) * Math.SQRT1_2;
    const g = w - period * Math.floor(w / period);
    const half = period / 2;
    distance = g < half ? Math.min(g, half - g) : -Math.min(g - half, period - g);
  } else {
    const du = u - period * Math.round(u / period);
    const dv = v - period * Math.round(v / period);
    distance = period * 0.32 - Math.sqrt(du * du + dv * dv);
  }
  return Math.min(1, Math.max(0, 0.5 + distance));
}

/** Composites a painted shape over the image through its coverage (`alpha`, which may be occluded later). */
export function paintShape(image: Float32Array, imageWidth: number, coverage: Coverage, paint: Paint): void {
  const { x0, y0, width, height, alpha } = coverage;
  const a = (-paint.rotation * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const [cr, cg, cb] = paint.color;
  const [sr, sg, sb] = paint.shade;
  for (let row = 0; row < height; row++) {
    const y = y0 + row + 0.5 - paint.cy;
    for (let col = 0; col < width; col++) {
      const cover = alpha[row * width + col]!;
      if (cover <= 0) continue;
      const x = x0 + col + 0.5 - paint.cx;
      const m = textureMix(paint.texture, x * cos - y * sin, x * sin + y * cos, paint.period);
      const p = ((y0 + row) * imageWidth + x0 + col) * 3;
      image[p] = image[p]! * (1 - cover) + (cr + (sr - cr) * m) * cover;
      image[p + 1] = image[p + 1]! * (1 - cover) + (cg + (sg - cg) * m) * cover;
      image[p + 2] = image[p + 2]! * (1 - cover) + (cb + (sb - cb) * m) * cover;
    }
  }
}

export interface Background {
  image: Float32Array;
  /** The colours it is made of (one, or a gradient's two ends): shape colours keep away from them. */
  colors: Rgb[];
}

/**
 * A plain colour or a soft linear gradient, muted (dark three times in four, light otherwise), with
 * light per-pixel noise so a model cannot key on a perfectly flat background.
 */
export function paintBackground(rng: Rng, width: number, height: number): Background {
  const dark = rng.chance(0.75);
  const grey = dark ? rng.range(35, 80) : rng.range(195, 225);
  const tint = () => rng.range(-12, 12);
  const first: Rgb = [grey + tint(), grey + tint(), grey + tint()];
  let second = first;
  if (rng.chance(0.5)) {
    const shift = rng.range(-30, 30);
    second = [first[0] + shift + tint(), first[1] + shift + tint(), first[2] + shift + tint()];
  }
  const angle = rng.range(0, 2 * Math.PI);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  // Projections of the corners, so the gradient runs from one end of the image to the other.
  const corners = [0, width * dx, height * dy, width * dx + height * dy];
  const lo = Math.min(...corners);
  const span = Math.max(...corners) - lo || 1;
  const image = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = ((x + 0.5) * dx + (y + 0.5) * dy - lo) / span;
      const noise = rng.range(-4, 4);
      const p = (y * width + x) * 3;
      image[p] = first[0] + (second[0] - first[0]) * t + noise;
      image[p + 1] = first[1] + (second[1] - first[1]) * t + noise;
      image[p + 2] = first[2] + (second[2] - first[2]) * t + noise;
    }
  }
  return { image, colors: second === first ? [first] : [first, second] };
}

export function rgbDistance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

export function toBytes(image: Float32Array): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(image[i]!)));
  return out;
}
