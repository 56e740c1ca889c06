/**
 * GELU (tanh form) and its gradient as one native pass each on the wasm heap (../native.ts), for
 * the fused op in ../fused.ts. TensorFlow.js's composite runs seven element-wise kernels forward
 * and about twelve backward over the MLP's [tokens, 4·d] activations.
 */
import { loadedNativeKernels } from '../native';
import type { tf } from '../tf';
import { heapFloats as heap, input, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

export const geluKernelName = 'VrftGelu';
export const geluGradKernelName = 'VrftGeluGrad';

function gelu(args: KernelArgs): TensorInfo {
  const backend = wasmBackendOf(args);
  const x = input(args, 'x');
  const y = backend.makeOutput(x.shape, 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  loadedNativeKernels()!.gelu(heap(backend, x), heap(backend, y));
  return y;
}

function geluGrad(args: KernelArgs): TensorInfo {
  const backend = wasmBackendOf(args);
  const x = input(args, 'x');
  const dx = backend.makeOutput(x.shape, 'float32');
  loadedNativeKernels()!.geluGrad(heap(backend, x), heap(backend, input(args, 'dy')), heap(backend, dx));
  return dx;
}

export const geluConfigs: tf.KernelConfig[] = [
  { kernelName: geluKernelName, backendName: 'wasm', kernelFunc: gelu as tf.KernelFunc },
  { kernelName: geluGradKernelName, backendName: 'wasm', kernelFunc: geluGrad as tf.KernelFunc },
];
