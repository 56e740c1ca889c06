/**
 * Identity for the wasm backend without the copy. TensorFlow.js clones every tensor it keeps for a
 * backward pass (Engine.saveTensorsForBackwardMode → clone → Identity), and the wasm backend's
 * Identity copies the data each time; sharing it makes a tiny-vlm gradient ~5 % faster. Tensors
 * are immutable, so the clone can share the data and count one more reference to it, as the cpu
 * backend's Identity and the wasm backend's own Reshape do.
 */
import { tf } from '../tf';
import { input, replacing, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

function identity(args: KernelArgs): TensorInfo {
  const x = input(args, 'x');
  wasmBackendOf(args).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Cast to the dtype x already has shares the data too: TensorFlow.js's Multiply gradient casts
 * both of its inputs to float32, and the wasm backend copied them (~200 copies a training step).
 */
function cast(args: KernelArgs, original: tf.KernelConfig): TensorInfo {
  const x = input(args, 'x');
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  return dtype === x.dtype ? identity(args) : (original.kernelFunc(args) as TensorInfo);
}

export function castConfig(original: tf.KernelConfig): tf.KernelConfig {
  return replacing(original, (args) => cast(args, original));
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity as tf.KernelFunc,
};
