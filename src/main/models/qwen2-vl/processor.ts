/**
 * Qwen2-VL / Qwen2.5-VL's image processor (QWEN.md §2), exact to transformers 5.18's PIL one
 * (`Qwen2VLImageProcessorPil`, what AutoImageProcessor loads without torchvision):
 *
 *   RGB u8 ─smartResize─▶ size (multiples of 28) ─resizeBicubic (Pillow's)─▶ u8
 *          ─(u8/255 − mean)/std in float32─▶ patchify ─▶ pixelValues [N, C·T·p·p], gridThw [1, gh, gw]
 *
 * Pillow's resampler is integer arithmetic after its coefficients are fixed, so the resized bytes
 * match it exactly; the normalisation repeats numpy's float32 steps, so the pixel values match
 * transformers' bit for bit (test/unit/qwen/processor.test.ts, fixtures by
 * tools/reference/qwen_processor.py).
 */
import type { RgbImage } from '../policy';
import type { QwenImageProcessorConfig } from './config';

export interface ImageSize {
  width: number;
  height: number;
}

/** [t, gh, gw]: frames (1 for an image), rows and columns of 14-pixel patches. */
export type GridThw = [number, number, number];

export interface ProcessedImage {
  /** `rows` rows of C·T·p·p values (1176), grouped by merge block (QWEN.md §2.5). */
  pixelValues: Float32Array;
  rows: number;
  gridThw: GridThw;
  /** The size the image was resized to, the frame of Qwen2.5-VL's absolute-pixel answers. */
  resized: ImageSize;
}

/** Python's round(): halves go to the even neighbour (round(2.5) = 2, so a 70-pixel side gives 56). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * transformers' `smart_resize`: each side a multiple of `factor` (patch·merge = 28), the area
 * within [minPixels, maxPixels], the aspect ratio kept as nearly as that allows. Its quirks are
 * kept on purpose: the first rounding can give 0 (a side under 14 px), which then takes the
 * min-pixels branch; the max branch's `max(factor, …)` can leave the area above maxPixels.
 * The defaults are the class's own, used only when a checkpoint configures nothing.
 */
export function smartResize(
  height: number,
  width: number,
  factor = 28,
  minPixels = 56 * 56,
  maxPixels = 28 * 28 * 1280,
): ImageSize {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0))
    throw new Error(`an image must have a positive whole width and height, not ${width}×${height}`);
  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > 200)
    throw new Error(
      `the image is ${width}×${height} pixels: its aspect ratio ${ratio.toFixed(1)} is over 200, ` +
        `which Qwen2-VL's image processor refuses; crop or pad it to a less extreme shape`,
    );
  let h = roundHalfEven(height / factor) * factor;
  let w = roundHalfEven(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return { height: h, width: w };
}

// ---------------------------------------------------------------------------------------------
// Pillow's Image.resize(size, BICUBIC) on 8-bit images (libImaging/Resample.c, ImagingResample).

/**
 * Pillow keeps 8 bits for the result and 2 for overshoot (the cubic has negative lobes) in a
 * 32-bit int: coefficients are fixed-point with 22 fraction bits.
 */
const precisionBits = 32 - 8 - 2;

/** Keys' cubic with a = −0.5, as Pillow writes it (the order of operations matters to the bit). */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coefficients {
  /** Taps per output pixel, the row stride of `weights`. */
  ksize: number;
  /** Per output pixel: the first input index and how many inputs it reads. */
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  weights: Int32Array;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole input [0, inSize): the filter
 * widens by the downscale factor (an antialiasing low-pass), each output's taps are normalised to
 * sum to 1 in double precision, then rounded half away from zero to 22 fraction bits.
 */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale; // bicubic's support is 2
  const ksize = Math.ceil(support) * 2 + 1;
  const invScale = 1 / filterScale;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const taps = new Float64Array(ksize);
  const one = 2 ** precisionBits;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) casts truncate toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      const w = bicubic((x + xmin - center + 0.5) * invScale);
      taps[x] = w;
      sum += w;
    }
    for (let x = 0; x < n; x++) {
      const k = sum !== 0 ? taps[x]! / sum : taps[x]!;
      weights[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * one) : Math.trunc(0.5 + k * one);
    }
    first[xx] = xmin;
    count[xx] = n;
  }
  return { ksize, first, count, weights };
}

/** Rounding offset: half of one unit in the last place kept. */
const half = 1 << (precisionBits - 1);

/**
 * Pillow's horizontal pass over source rows [rowStart, rowStart + rows). The output is written
 * through a Uint8ClampedArray view: storing the integer `sum >> 22` clamps it to 0–255 exactly as
 * Pillow's clip8 lookup does.
 */
function horizontalPass(
  src: Uint8Array,
  srcWidth: number,
  rowStart: number,
  rows: number,
  outWidth: number,
  c: Coefficients,
): Uint8Array {
  const out = new Uint8Array(outWidth * rows * 3);
  const clamped = new Uint8ClampedArray(out.buffer);
  const { ksize, first, count, weights } = c;
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + rowStart) * srcWidth * 3;
    let o = y * outWidth * 3;
    for (let xx = 0; xx < outWidth; xx++) {
      let s0 = half;
      let s1 = half;
      let s2 = half;
      let i = rowBase + first[xx]! * 3;
      const kBase = xx * ksize;
      const n = count[xx]!;
      for (let x = 0; x < n; x++, i += 3) {
        const k = weights[kBase + x]!;
        s0 += src[i]! * k;
        s1 += src[i + 1]! * k;
        s2 += src[i + 2]! * k;
      }
      clamped[o++] = s0 >> precisionBits;
      clamped[o++] = s1 >> precisionBits;
      clamped[o++] = s2 >> precisionBits;
    }
  }
  return out;
}

/**
 * Pillow's vertical pass; `rowOffset` is the first source row `src` holds. Each output row is
 * summed input row by input row into integer accumulators (integer sums are exact, so the order
 * is free), which reads memory in order instead of striding down columns.
 */
function verticalPass(
  src: Uint8Array,
  width: number,
  rowOffset: number,
  outHeight: number,
  c: Coefficients,
): Uint8Array {
  const stride = width * 3;
  const out = new Uint8Array(stride * outHeight);
  const clamped = new Uint8ClampedArray(out.buffer);
  const acc = new Int32Array(stride);
  const { ksize, first, count, weights } = c;
  for (let yy = 0; yy < outHeight; yy++) {
    acc.fill(half);
    const n = count[yy]!;
    for (let y = 0; y < n; y++) {
      const k = weights[yy * ksize + y]!;
      const rowBase = (first[yy]! - rowOffset + y) * stride;
      for (let i = 0; i < stride; i++) acc[i]! += src[rowBase + i]! * k;
    }
    const o = yy * stride;
    for (let i = 0; i < stride; i++) clamped[o + i] = acc[i]! >> precisionBits;
  }
  return out;
}

/** The size the image processor `config` resizes an image to (the `resized` answer frame). */
export function inputSizeOf(
  image: { width: number; height: number },
  config: Pick<QwenImageProcessorConfig, 'patchSize' | 'mergeSize' | 'minPixels' | 'maxPixels'>,
): ImageSize {
  const factor = config.patchSize * config.mergeSize;
  return smartResize(image.height, image.width, factor, config.minPixels, config.maxPixels);
}

/**
 * `Image.resize((width, height), Image.BICUBIC)` on an 8-bit RGB image, bit for bit: separable,
 * horizontal pass then vertical, each clipped to uint8. As in Pillow, a pass whose axis keeps its
 * size is skipped (the same size on both axes is a copy), and the horizontal pass only computes
 * the source rows the vertical pass will read.
 */
export function resizeBicubic(image: RgbImage, width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new Error(`cannot resize to ${width}×${height}: the size must be positive whole pixels`);
  if (image.rgb.length !== image.width * image.height * 3)
    throw new Error(
      `an RGB image of ${image.width}×${image.height} needs ${image.width * image.height * 3} bytes`,
    );
  const vertical = coefficients(image.height, height);
  let pixels = image.rgb;
  let rowOffset = 0;
  if (width !== image.width) {
    const firstRow = vertical.first[0]!;
    const lastRow = vertical.first[height - 1]! + vertical.count[height - 1]!;
    pixels = horizontalPass(
      pixels,
      image.width,
      firstRow,
      lastRow - firstRow,
      width,
      coefficients(image.width, width),
    );
    rowOffset = firstRow;
  }
  if (height !== image.height) pixels = verticalPass(pixels, width, rowOffset, height, vertical);
  else if (pixels === image.rgb) pixels = image.rgb.slice();
  return { width, height, rgb: pixels };
}

// ---------------------------------------------------------------------------------------------
// Normalise and patchify.

/**
 * For each channel, the pixel value of each of the 256 levels, computed as transformers does:
 * rescale in float64 then cast to float32 (`image.astype(float64) * (1/255)`), then
 * `(x − mean) / std` in float32 with mean and std cast to float32. Each float32 operation is
 * done in double and rounded once with Math.fround, which equals the float32 operation exactly
 * (a double holds more than twice float32's precision). The hub's rescale_factor,
 * 0.00392156862745098, is exactly the double 1/255.
 */
function levelTables(config: QwenImageProcessorConfig): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const mean = f(config.imageMean[c]!);
    const std = f(config.imageStd[c]!);
    const table = new Float32Array(256);
    for (let level = 0; level < 256; level++) table[level] = f(f(f(level * (1 / 255)) - mean) / std);
    return table;
  });
}

/**
 * The resized image (H, W multiples of p·m) as rows of patches (QWEN.md §2.5): patches ordered
 * merge block by merge block (the m×m patches the merger will fuse are consecutive rows), each
 * row [c][t][y][x] with the single frame repeated T times (the Conv3d expects T frames).
 */
function patchify(image: RgbImage, config: QwenImageProcessorConfig): ProcessedImage {
  const { patchSize: p, mergeSize: m, temporalPatchSize: T } = config;
  const gh = image.height / p;
  const gw = image.width / p;
  if (!Number.isInteger(gh / m) || !Number.isInteger(gw / m))
    throw new Error(`a ${image.width}×${image.height} image does not split into ${p * m}-pixel merge blocks`);
  const tables = levelTables(config);
  const patchArea = p * p;
  const rowWidth = 3 * T * patchArea;
  const rows = gh * gw;
  const out = new Float32Array(rows * rowWidth);
  const { rgb, width } = image;
  let row = 0;
  for (let bh = 0; bh < gh / m; bh++)
    for (let bw = 0; bw < gw / m; bw++)
      for (let mh = 0; mh < m; mh++)
        for (let mw = 0; mw < m; mw++, row++) {
          const top = (bh * m + mh) * p;
          const left = (bw * m + mw) * p;
          for (let c = 0; c < 3; c++) {
            const table = tables[c]!;
            const base = row * rowWidth + c * T * patchArea;
            for (let y = 0; y < p; y++) {
              let src = ((top + y) * width + left) * 3 + c;
              let dst = base + y * p;
              for (let x = 0; x < p; x++, src += 3) out[dst++] = table[rgb[src]!]!;
            }
            for (let t = 1; t < T; t++) out.copyWithin(base + t * patchArea, base, base + patchArea);
          }
        }
  return {
    pixelValues: out,
    rows,
    gridThw: [1, gh, gw],
    resized: { width: image.width, height: image.height },
  };
}

/** One RGB image → the vision tower's input, as `Qwen2VLImageProcessor(images=[image])` gives it. */
export function processImage(image: RgbImage, config: QwenImageProcessorConfig): ProcessedImage {
  const size = inputSizeOf(image, config);
  return patchify(resizeBicubic(image, size.width, size.height), config);
}

/** How many `<|image_pad|>` tokens stand for an image: one per merged m×m block of patches. */
export function imagePadCount(gridThw: GridThw, mergeSize: number): number {
  return (gridThw[0] * gridThw[1] * gridThw[2]) / (mergeSize * mergeSize);
}
