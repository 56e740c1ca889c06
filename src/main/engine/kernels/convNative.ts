/**
 * A convolution and both its gradients by the native kernels (../native.ts), NHWC, dilations 1.
 * With N = batch·outHeight·outWidth output pixels, the im2col of x [N, kh·kw·ci] and the filter
 * as [kh·kw·ci, co]:
 *
 *   y  = im2col(x) · filter                 (Conv2D)
 *   dW = im2col(x)ᵀ · dy                    (Conv2DBackpropFilter; the transpose is strides)
 *   dx = col2im(dy · filterᵀ)               (Conv2DBackpropInput)
 */
import type { NativeKernels } from '../native';
import type { ConvInfo } from './convTaps';
import { nativeProduct } from './nativeProduct';
import { disposeIntermediate, heapFloats, type TensorInfo, type WasmBackend } from './wasmBackend';

function geometry(info: ConvInfo): Int32Array {
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

const view = heapFloats;

/** im2col(x) as a new [N, kh·kw·ci] tensor the caller disposes. */
function columnsOf(backend: WasmBackend, native: NativeKernels, x: TensorInfo, info: ConvInfo): TensorInfo {
  const columns = backend.makeOutput([info.pixels, info.taps], 'float32');
  native.im2col(view(backend, x), view(backend, columns), geometry(info));
  return columns;
}

export function nativeConv2d(
  backend: WasmBackend,
  native: NativeKernels,
  x: TensorInfo,
  filter: TensorInfo,
  info: ConvInfo,
): TensorInfo {
  const { pixels, taps, outChannels: co } = info;
  const columns = columnsOf(backend, native, x, info);
  const y = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, co], 'float32');
  nativeProduct(backend, native, columns, filter, y, { m: pixels, n: co, k: taps });
  disposeIntermediate(backend, columns);
  return y;
}

export function nativeConv2dBackpropFilter(
  backend: WasmBackend,
  native: NativeKernels,
  x: TensorInfo,
  dy: TensorInfo,
  info: ConvInfo,
  filterShape: number[],
): TensorInfo {
  const { pixels, taps, outChannels: co } = info;
  const columns = columnsOf(backend, native, x, info);
  const dw = backend.makeOutput(filterShape, 'float32');
  nativeProduct(backend, native, columns, dy, dw, { m: taps, n: co, k: pixels, transposeA: true });
  disposeIntermediate(backend, columns);
  return dw;
}

export function nativeConv2dBackpropInput(
  backend: WasmBackend,
  native: NativeKernels,
  dy: TensorInfo,
  filter: TensorInfo,
  info: ConvInfo,
  inputShape: number[],
): TensorInfo {
  const { pixels, taps, outChannels: co } = info;
  const columns = backend.makeOutput([pixels, taps], 'float32');
  nativeProduct(backend, native, dy, filter, columns, { m: pixels, n: taps, k: co, transposeB: true });
  const dx = backend.makeOutput(inputShape, 'float32');
  native.col2im(view(backend, dx), view(backend, columns), geometry(info));
  disposeIntermediate(backend, columns);
  return dx;
}
