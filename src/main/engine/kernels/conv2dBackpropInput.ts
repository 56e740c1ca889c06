/**
 * Conv2DBackpropInput for the wasm backend, whose own runs at about 2 GFLOP/s: the input gradient
 * of a convolution, NHWC. With N = batch·outHeight·outWidth output pixels and the filter as
 * [kh·kw·ci, co],
 *
 *   columns = dy [N, co] · filterᵀ [co, kh·kw·ci]     (one XNNPACK matMul)
 *   dx[b, oy·sy + ky − top, ox·sx + kx − left, ci] += columns[n, (ky·kw + kx)·ci + ci]
 *
 * the second line being col2im, the transpose of the im2col Conv2DBackpropFilter uses (taps that
 * read padding are dropped). Dilations are 1 (tf.conv2d's gradient).
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

function conv2dBackpropInput(args: KernelArgs, batchMatMul: tf.KernelConfig): TensorInfo {
  const backend = wasmBackendOf(args);
  const dy = input(args, 'dy');
  const filter = input(args, 'filter');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = convInfo('Conv2DBackpropInput', attrs, attrs.inputShape, filter.shape);
  const { inChannels, outChannels, pixels, taps } = info;
  // filterᵀ [co, taps], so the product is a plain (fast) matMul.
  const transposed = backend.makeOutput([outChannels, taps], 'float32');
  {
    const t = backend.typedArrayFromHeap(transposed) as Float32Array;
    const f = backend.typedArrayFromHeap(filter) as Float32Array;
    for (let tap = 0; tap < taps; tap++)
      for (let co = 0; co < outChannels; co++) t[co * taps + tap] = f[tap * outChannels + co]!;
  }
  const columns = callKernel(
    batchMatMul,
    backend,
    { a: withShape(dy, [pixels, outChannels]), b: transposed },
    { transposeA: false, transposeB: false },
  );
  disposeIntermediate(backend, transposed);
  const dx = backend.makeOutput([...attrs.inputShape], 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  const c = backend.typedArrayFromHeap(columns) as Float32Array;
  out.fill(0);
  forEachTap(info, (n, to, tap) => {
    const from = n * taps + tap;
    for (let ci = 0; ci < inChannels; ci++) out[to + ci] = out[to + ci]! + c[from + ci]!;
  });
  disposeIntermediate(backend, columns);
  return dx;
}

export function conv2dBackpropInputConfig(batchMatMul: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => conv2dBackpropInput(args, batchMatMul)) as tf.KernelFunc,
  };
}
