/**
 * Layer norm over the last axis and its gradient as one native pass each on the wasm heap
 * (../native.ts), for the fused op in ../fused.ts. The gradient kernel returns dx, dγ and dβ
 * together.
 */
import { loadedNativeKernels } from '../native';
import type { tf } from '../tf';
import { heapFloats as heap, input, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

export const layerNormKernelName = 'VrftLayerNorm';
export const layerNormGradKernelName = 'VrftLayerNormGrad';

const epsilonOf = (args: KernelArgs) => (args.attrs as { epsilon: number }).epsilon;

function layerNorm(args: KernelArgs): TensorInfo {
  const backend = wasmBackendOf(args);
  const [x, gamma, beta] = [input(args, 'x'), input(args, 'gamma'), input(args, 'beta')];
  const y = backend.makeOutput(x.shape, 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  loadedNativeKernels()!.layerNorm(
    heap(backend, x),
    heap(backend, gamma),
    heap(backend, beta),
    heap(backend, y),
    x.shape.at(-1)!,
    epsilonOf(args),
  );
  return y;
}

function layerNormGrad(args: KernelArgs): TensorInfo[] {
  const backend = wasmBackendOf(args);
  const [x, gamma, dy] = [input(args, 'x'), input(args, 'gamma'), input(args, 'dy')];
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgamma = backend.makeOutput(gamma.shape, 'float32');
  const dbeta = backend.makeOutput(gamma.shape, 'float32');
  loadedNativeKernels()!.layerNormGrad(
    heap(backend, x),
    heap(backend, gamma),
    heap(backend, dy),
    heap(backend, dx),
    heap(backend, dgamma),
    heap(backend, dbeta),
    x.shape.at(-1)!,
    epsilonOf(args),
  );
  return [dx, dgamma, dbeta];
}

export const layerNormConfigs: tf.KernelConfig[] = [
  { kernelName: layerNormKernelName, backendName: 'wasm', kernelFunc: layerNorm as tf.KernelFunc },
  { kernelName: layerNormGradKernelName, backendName: 'wasm', kernelFunc: layerNormGrad as tf.KernelFunc },
];
