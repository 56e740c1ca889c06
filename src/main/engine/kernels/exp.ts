/**
 * Exp on the native kernels (../native.ts) where the load-time check chose them: the wasm
 * backend's runs a scalar expf per value (~6 ns), and each log-softmax over Qwen's 151,936-word
 * vocabulary takes e^x of every logit. The native one is vectorised at the CPU's width, to ~1 ulp
 * (0 below ~−104, ∞ above ~88.7, NaN for NaN, as expf). Anything but float32 stays the backend's.
 */
import { nativeKernels } from '../native';
import type { tf } from '../tf';
import {
  heapFloats as heap,
  input,
  replacing,
  wasmBackendOf,
  type KernelArgs,
  type TensorInfo,
} from './wasmBackend';

function exp(args: KernelArgs, original: tf.KernelConfig): TensorInfo {
  const x = input(args, 'x');
  const native = nativeKernels('exp');
  if (native === undefined || x.dtype !== 'float32') return original.kernelFunc(args) as TensorInfo;
  const backend = wasmBackendOf(args);
  const y = backend.makeOutput(x.shape, 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  native.exp(heap(backend, x), heap(backend, y));
  return y;
}

export function expConfig(original: tf.KernelConfig): tf.KernelConfig {
  return replacing(original, (args) => exp(args, original));
}
