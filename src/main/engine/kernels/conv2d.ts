/**
 * Conv2D for the wasm backend: the native kernels' im2col product where they load (convNative.ts,
 * ~4× the backend's XNNPACK convolution here), else the backend's own. Dilated or NCHW
 * convolutions stay the backend's.
 */
import { nativeKernels } from '../native';
import type { tf } from '../tf';
import { nativeConv2d } from './convNative';
import { convInfo } from './convTaps';
import { input, replacing, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

function conv2d(args: KernelArgs, original: tf.KernelConfig): TensorInfo {
  const native = nativeKernels('conv');
  const x = input(args, 'x');
  const filter = input(args, 'filter');
  const attrs = args.attrs as unknown as tf.Conv2DAttrs;
  const undilated = [attrs.dilations ?? 1].flat().every((d) => d === 1);
  if (!native || x.dtype !== 'float32' || !undilated || attrs.dataFormat !== 'NHWC') {
    return original.kernelFunc(args) as TensorInfo;
  }
  const info = convInfo('Conv2D', attrs, x.shape, filter.shape);
  return nativeConv2d(wasmBackendOf(args), native, x, filter, info);
}

export function conv2dConfig(original: tf.KernelConfig): tf.KernelConfig {
  return replacing(original, (args) => conv2d(args, original));
}
