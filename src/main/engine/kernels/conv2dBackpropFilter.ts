/**
 * Conv2DBackpropFilter for the wasm backend, which lacks it: the filter gradient of a convolution
 * (tiny-vlm's convolutional stem), NHWC. With N = batch·outHeight·outWidth output pixels,
 *
 *   dW[ky, kx, ci, co] = Σ_n x[b, oy·sy + ky − top, ox·sx + kx − left, ci] · dy[n, co]
 *
 * is one product: the transposed im2col of x, [kh·kw·ci, N] (zeros where a tap reads padding),
 * times dy [N, co], with the backend's XNNPACK matMul; the [kh·kw·ci, co] result is dW's layout.
 * The order matters: XNNPACK repacks its right operand on every call, and dy is the small one
 * (the other order, dyᵀ · im2col, spent as long packing the im2col as multiplying). Each row of
 * the transposed im2col is one input channel shifted by one tap, so it is written from x
 * transposed to channel-major [ci, batch·H·W], a contiguous run per output row. Dilations are 1
 * (tf.conv2d's gradient). Where the native kernels load, they do it all (convNative.ts).
 */
import { nativeKernels } from '../native';
import { tf } from '../tf';
import { nativeConv2dBackpropFilter } from './convNative';
import { convInfo } from './convTaps';
import { transposeMatrix } from './transpose';
import {
  callKernel,
  disposeIntermediate,
  input,
  wasmBackendOf,
  withShape,
  type KernelArgs,
  type TensorInfo,
} from './wasmBackend';

function conv2dBackpropFilter(args: KernelArgs, batchMatMul: tf.KernelConfig): TensorInfo {
  const backend = wasmBackendOf(args);
  const x = input(args, 'x');
  const dy = input(args, 'dy');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = convInfo('Conv2DBackpropFilter', attrs, x.shape, attrs.filterShape);
  const native = nativeKernels('convFilter');
  if (native) return nativeConv2dBackpropFilter(backend, native, x, dy, info, [...attrs.filterShape]);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, pixels, taps } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  const plane = batchSize * inHeight * inWidth;
  const channels = transposeMatrix(backend, x, plane, inChannels);
  const columns = backend.makeOutput([taps, pixels], 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const c = backend.typedArrayFromHeap(columns) as Float32Array;
  const xs = backend.typedArrayFromHeap(channels) as Float32Array;
  for (let ky = 0; ky < filterHeight; ky++) {
    for (let kx = 0; kx < filterWidth; kx++) {
      // Output columns [first, end) read input columns inside the image: ix = ox·sx + shift.
      const shift = kx - padInfo.left;
      const first = Math.max(0, Math.ceil(-shift / strideWidth));
      const end = Math.min(outWidth, Math.floor((inWidth - 1 - shift) / strideWidth) + 1);
      for (let ci = 0; ci < inChannels; ci++) {
        const row = ((ky * filterWidth + kx) * inChannels + ci) * pixels;
        for (let b = 0; b < batchSize; b++) {
          for (let oy = 0; oy < outHeight; oy++) {
            const to = row + (b * outHeight + oy) * outWidth;
            const iy = oy * strideHeight + ky - padInfo.top;
            if (iy < 0 || iy >= inHeight || first >= end) {
              c.fill(0, to, to + outWidth);
              continue;
            }
            c.fill(0, to, to + first);
            c.fill(0, to + end, to + outWidth);
            const from = ci * plane + (b * inHeight + iy) * inWidth + shift;
            for (let ox = first; ox < end; ox++) c[to + ox] = xs[from + ox * strideWidth]!;
          }
        }
      }
    }
  }
  disposeIntermediate(backend, channels);
  const dw = callKernel(
    batchMatMul,
    backend,
    { a: columns, b: withShape(dy, [pixels, outChannels]) },
    { transposeA: false, transposeB: false },
  );
  disposeIntermediate(backend, columns);
  return withShape(dw, [...attrs.filterShape]);
}

export function conv2dBackpropFilterConfig(batchMatMul: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => conv2dBackpropFilter(args, batchMatMul)) as tf.KernelFunc,
  };
}
