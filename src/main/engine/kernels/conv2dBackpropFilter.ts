/**
 * Conv2DBackpropFilter for the wasm backend, which lacks it: the filter gradient of a convolution
 * (tiny-vlm's convolutional stem), NHWC. With N = batch·outHeight·outWidth output pixels,
 *
 *   dW[ky, kx, ci, co] = Σ_n x[b, oy·sy + ky − top, ox·sx + kx − left, ci] · dy[n, co]
 *
 * is one product, computed transposed: dyᵀ [co, N] times the im2col of x, [N, kh·kw·ci] (zeros
 * where a tap reads padding), with the backend's XNNPACK matMul, then the [co, kh·kw·ci] result is
 * transposed back. Writing the im2col row by row and transposing the two small operands is ~2×
 * faster than scattering a transposed im2col. Dilations are 1 (tf.conv2d's gradient).
 */
import { tf } from '../tf';
import { convInfo, forEachTap } from './convTaps';
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
  const { inChannels, outChannels, pixels, taps } = info;
  const columns = backend.makeOutput([pixels, taps], 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const c = backend.typedArrayFromHeap(columns) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  c.fill(0);
  forEachTap(info, (n, from, tap) => {
    const to = n * taps + tap;
    for (let ci = 0; ci < inChannels; ci++) c[to + ci] = xs[from + ci]!;
  });
  const dyT = transposeMatrix(backend, dy, pixels, outChannels);
  const dwT = callKernel(
    batchMatMul,
    backend,
    { a: dyT, b: columns },
    { transposeA: false, transposeB: false },
  );
  disposeIntermediate(backend, columns);
  disposeIntermediate(backend, dyT);
  const dw = withShape(transposeMatrix(backend, dwT, outChannels, taps), [...attrs.filterShape]);
  disposeIntermediate(backend, dwT);
  return dw;
}

export function conv2dBackpropFilterConfig(batchMatMul: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => conv2dBackpropFilter(args, batchMatMul)) as tf.KernelFunc,
  };
}
