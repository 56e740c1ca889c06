/**
 * Conv2DBackpropInput for the wasm backend, whose own runs at about 2 GFLOP/s: the input gradient
 * of a convolution, NHWC. With N = batch·outHeight·outWidth output pixels and the filter as
 * [kh·kw·ci, co],
 *
 *   columns = dy [N, co] · filterᵀ [co, kh·kw·ci]     (one XNNPACK matMul)
 *   dx[b, oy·sy + ky − top, ox·sx + kx − left, ci] += columns[n, (ky·kw + kx)·ci + ci]
 *
 * the second line being col2im, the transpose of the im2col Conv2DBackpropFilter uses (taps that
 * read padding are dropped). With stride 1 the input gradient is itself a convolution, which the
 * backend's XNNPACK Conv2D runs ~1.5× faster still: dy convolved with the filter turned 180° and
 * its channels swapped, padded by k − 1 − the forward padding on each side. Dilations are 1
 * (tf.conv2d's gradient). Where the native kernels load, they do it all (convNative.ts).
 */
import { nativeKernels } from '../native';
import { tf } from '../tf';
import { nativeConv2dBackpropInput } from './convNative';
import { convInfo, forEachTap, type ConvInfo } from './convTaps';
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

/** The backend's own kernels this one calls. */
export interface ConvOriginals {
  batchMatMul: tf.KernelConfig;
  conv2d: tf.KernelConfig;
}

/** Whether dx is a convolution of dy: stride 1, and no padding wider than the filter. */
function isConvolution({ strideHeight, strideWidth, filterHeight, filterWidth, padInfo: p }: ConvInfo) {
  const padsFit = Math.max(p.top, p.bottom) < filterHeight && Math.max(p.left, p.right) < filterWidth;
  return strideHeight === 1 && strideWidth === 1 && padsFit;
}

/** Stride 1: dx = dy ⋆ the filter turned 180° with ci and co swapped, padded to the input's size. */
function viaConvolution(args: KernelArgs, info: ConvInfo, conv2d: tf.KernelConfig): TensorInfo {
  const backend = wasmBackendOf(args);
  const filter = input(args, 'filter');
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co, padInfo } = info;
  const turned = backend.makeOutput([kh, kw, co, ci], 'float32');
  const t = backend.typedArrayFromHeap(turned) as Float32Array;
  const f = backend.typedArrayFromHeap(filter) as Float32Array;
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++) {
      const from = ((kh - 1 - ky) * kw + (kw - 1 - kx)) * ci * co;
      const to = (ky * kw + kx) * co * ci;
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) t[to + o * ci + i] = f[from + i * co + o]!;
    }
  const pad = [
    [0, 0],
    [kh - 1 - padInfo.top, kh - 1 - padInfo.bottom],
    [kw - 1 - padInfo.left, kw - 1 - padInfo.right],
    [0, 0],
  ];
  const dx = callKernel(conv2d, backend, { x: input(args, 'dy'), filter: turned }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations: [1, 1],
  } as unknown as tf.NamedAttrMap);
  disposeIntermediate(backend, turned);
  return dx;
}

function conv2dBackpropInput(args: KernelArgs, originals: ConvOriginals): TensorInfo {
  const backend = wasmBackendOf(args);
  const dy = input(args, 'dy');
  const filter = input(args, 'filter');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = convInfo('Conv2DBackpropInput', attrs, attrs.inputShape, filter.shape);
  const native = nativeKernels('convInput');
  if (native) return nativeConv2dBackpropInput(backend, native, dy, filter, info, [...attrs.inputShape]);
  if (isConvolution(info)) return viaConvolution(args, info, originals.conv2d);
  const { inChannels, outChannels, pixels, taps } = info;
  // filterᵀ [co, taps], so the product is a plain (fast) matMul.
  const transposed = transposeMatrix(backend, filter, taps, outChannels);
  const columns = callKernel(
    originals.batchMatMul,
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

export function conv2dBackpropInputConfig(originals: ConvOriginals): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => conv2dBackpropInput(args, originals)) as tf.KernelFunc,
  };
}
