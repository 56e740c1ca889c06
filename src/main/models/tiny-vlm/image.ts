/**
 * Image → model input: resized to the model's square input (area averaging, so a 2× downscale is
 * an exact 2×2 mean), scaled to [−1, 1], cut into row-major patches of patchSize² × RGB (or,
 * for a convolutional stem, left as rows of pixels).
 */
import type { RgbImage } from '../policy';
import { hasConvStem, patchCount, patchDim, type TinyVlmConfig } from './config';

export function imagePatches(image: RgbImage, config: TinyVlmConfig): Float32Array {
  const side = config.imageSize;
  const resized = resizeArea(image, side, side);
  // The convolutional stem reads whole rows of pixels; it cuts its own patches.
  if (hasConvStem(config)) return resized.map((v) => v / 127.5 - 1);
  const { patchSize } = config;
  const perRow = side / patchSize;
  const out = new Float32Array(patchCount(config) * patchDim(config));
  let o = 0;
  for (let py = 0; py < perRow; py++) {
    for (let px = 0; px < perRow; px++) {
      for (let y = 0; y < patchSize; y++) {
        for (let x = 0; x < patchSize; x++) {
          const at = ((py * patchSize + y) * side + px * patchSize + x) * 3;
          for (let c = 0; c < 3; c++) out[o++] = resized[at + c]! / 127.5 - 1;
        }
      }
    }
  }
  return out;
}

/** Box-filter resize: each output pixel is the area-weighted mean of the input pixels it covers. */
export function resizeArea(image: RgbImage, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height * 3);
  const sx = image.width / width;
  const sy = image.height / height;
  for (let oy = 0; oy < height; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < width; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let r = 0;
      let g = 0;
      let b = 0;
      let total = 0;
      for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
          const w = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          const at = (y * image.width + x) * 3;
          r += w * image.rgb[at]!;
          g += w * image.rgb[at + 1]!;
          b += w * image.rgb[at + 2]!;
          total += w;
        }
      }
      const o = (oy * width + ox) * 3;
      out[o] = r / total;
      out[o + 1] = g / total;
      out[o + 2] = b / total;
    }
  }
  return out;
}
