/**
 * A convolution's geometry from its attributes (both convolution-gradient kernels), and a walk over
 * every (output pixel, filter tap) pair that reads the input, not the padding (col2im).
 */
import { tf } from '../tf';

/** tfjs's convolution geometry, with the output pixel count N and the im2col row count kh·kw·ci. */
export type ConvInfo = tf.backend_util.Conv2DInfo & { pixels: number; taps: number };

/** The geometry of an NHWC convolution with dilations 1 (tf.conv2d's gradients). */
export function convInfo(
  kernel: string,
  attrs: { strides: [number, number] | number; pad: unknown; dataFormat: string; dimRoundingMode?: unknown },
  inputShape: readonly number[],
  filterShape: readonly number[],
): ConvInfo {
  tf.util.assert(attrs.dataFormat === 'NHWC', () => `${kernel} on wasm takes NHWC, not ${attrs.dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'round' | undefined,
  );
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  return { ...info, pixels, taps: info.filterHeight * info.filterWidth * info.inChannels };
}

/**
 * Calls `visit(n, input, tap)` for output pixel n (batch-major) and each filter tap inside the
 * image: `input` is the offset of that input pixel's channels in x, `tap` the offset of the tap's
 * rows in the [kh·kw·ci, …] im2col layout. The caller loops over the ci channels.
 */
export function forEachTap(info: ConvInfo, visit: (n: number, input: number, tap: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  let n = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, n++) {
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight + ky - padInfo.top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let kx = 0; kx < filterWidth; kx++) {
            const ix = ox * strideWidth + kx - padInfo.left;
            if (ix < 0 || ix >= inWidth) continue;
            visit(n, ((b * inHeight + iy) * inWidth + ix) * inChannels, (ky * filterWidth + kx) * inChannels);
          }
        }
      }
    }
  }
}
