/**
 * One call of the native product on tensors of the wasm heap: for each of `batch` entries,
 * c = op(a) · op(b), a [m, k] (stored [k, m] when transposeA), b [k, n] (stored [n, k] when
 * transposeB), c [m, n]; a shared operand is one matrix used by every entry. The transposes are
 * strides, so nothing is copied.
 */
import type { NativeKernels } from '../native';
import { heapFloats, type TensorInfo, type WasmBackend } from './wasmBackend';

export interface ProductShape {
  m: number;
  n: number;
  k: number;
  transposeA?: boolean;
  transposeB?: boolean;
  batch?: number;
  sharedA?: boolean;
  sharedB?: boolean;
}

export function nativeProduct(
  backend: WasmBackend,
  native: NativeKernels,
  a: TensorInfo,
  b: TensorInfo,
  c: TensorInfo,
  {
    m,
    n,
    k,
    transposeA = false,
    transposeB = false,
    batch = 1,
    sharedA = false,
    sharedB = false,
  }: ProductShape,
): void {
  // Heap views now, after every allocation (one may grow, and so move, the heap).
  const view = (x: TensorInfo) => heapFloats(backend, x);
  native.gemm(
    view(a),
    view(b),
    view(c),
    batch,
    m,
    n,
    k,
    sharedA ? 0 : m * k,
    transposeA ? 1 : k,
    transposeA ? m : 1,
    sharedB ? 0 : k * n,
    transposeB ? 1 : n,
    transposeB ? k : 1,
  );
}
