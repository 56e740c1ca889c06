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
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  tf.util.assert(dataFormat === 'NHWC', () => `Conv2DBackpropInput on wasm takes NHWC, not ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  const pixels = batchSize * outHeight * outWidth;
  const taps = filterHeight * filterWidth * inChannels;
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
  const dx = backend.makeOutput([...inputShape], 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  const c = backend.typedArrayFromHeap(columns) as Float32Array;
  out.fill(0);
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
            const to = ((b * inHeight + iy) * inWidth + ix) * inChannels;
            const from = n * taps + (ky * filterWidth + kx) * inChannels;
            for (let ci = 0; ci < inChannels; ci++) out[to + ci] = out[to + ci]! + c[from + ci]!;
          }
        }
      }
    }
  }
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
