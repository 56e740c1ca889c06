/**
 * Conv2DBackpropFilter for the wasm backend, which lacks it: the filter gradient of a convolution
 * (tiny-vlm's convolutional stem), NHWC. With N = batch·outHeight·outWidth output pixels,
 *
 *   dW[ky, kx, ci, co] = Σ_n x[b, oy·sy + ky − top, ox·sx + kx − left, ci] · dy[n, co]
 *
 * is one product: the transposed im2col of x, [kh·kw·ci, N] (zeros where a tap reads padding),
 * times dy as [N, co], with the backend's XNNPACK matMul. Dilations are 1 (tf.conv2d's gradient).
 */
import { tf } from '../tf';
import { convInfo, forEachTap } from './convTaps';
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
  const columns = backend.makeOutput([taps, pixels], 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const c = backend.typedArrayFromHeap(columns) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  c.fill(0);
  forEachTap(info, (n, from, row) => {
    for (let ci = 0; ci < inChannels; ci++) c[(row + ci) * pixels + n] = xs[from + ci]!;
  });
  const product = callKernel(
    batchMatMul,
    backend,
    { a: columns, b: withShape(dy, [pixels, outChannels]) },
    { transposeA: false, transposeB: false },
  );
  disposeIntermediate(backend, columns);
  return withShape(product, [...attrs.filterShape]);
}

export function conv2dBackpropFilterConfig(batchMatMul: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => conv2dBackpropFilter(args, batchMatMul)) as tf.KernelFunc,
  };
}
