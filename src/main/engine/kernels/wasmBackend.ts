/** The parts of the wasm backend's internals our kernels use, and the shared kernel plumbing. */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { tf } from '../tf';

export type WasmBackend = BackendWasm;
export type TensorInfo = tf.TensorInfo;
export type KernelArgs = Parameters<tf.KernelFunc>[0];

export function wasmBackendOf(args: KernelArgs): WasmBackend {
  return args.backend as WasmBackend;
}

export function input(args: KernelArgs, name: string): TensorInfo {
  const info = args.inputs[name];
  if (info === undefined) throw new Error(`kernel input "${name}" is missing`);
  return info;
}

/** Calls another wasm kernel (its setup has run when the backend initialised). */
export function callKernel(
  config: tf.KernelConfig,
  backend: WasmBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): TensorInfo {
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`${config.kernelName} returned several tensors, expected one`);
  return out;
}

/**
 * A float32 tensor's values as a view of the wasm heap. Take views only after a kernel's last
 * allocation: one may grow (and so move) the heap.
 */
export function heapFloats(backend: WasmBackend, x: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(x) as Float32Array;
}

/** Frees a tensor a kernel made for its own use (never one it returns). */
export function disposeIntermediate(backend: WasmBackend, info: TensorInfo): void {
  backend.disposeData(info.dataId);
}

/** The same data seen with another shape (same size, same layout): nothing is copied. */
export function withShape(x: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

/**
 * A project kernel in place of the backend's `original`, which it calls for the cases it leaves
 * to it: the original's setup binds the wasm function that call (and ours, for matMul) needs.
 */
export function replacing(
  original: tf.KernelConfig,
  kernel: (args: KernelArgs) => TensorInfo,
): tf.KernelConfig {
  return {
    kernelName: original.kernelName,
    backendName: 'wasm',
    setupFunc: original.setupFunc,
    kernelFunc: kernel as tf.KernelFunc,
  };
}
