/**
 * BatchMatMul and _FusedMatMul for the wasm backend, fast with transposes and batches too.
 *
 * The backend's own kernel is fast (~28 GFLOP/s, XNNPACK) only for one untransposed product:
 * with transposeA or transposeB it runs at 1–3 GFLOP/s, and every matMul gradient is transposed;
 * with a batch (attention's per-head products) it runs at ~2 GFLOP/s. So a transposed operand is
 * first materialised with the wasm Transpose kernel (memory-bound, cheap next to the product), a
 * batch whose weights are shared folds into one product, and any other batch becomes one fast
 * product per batch entry.
 *
 * Where the project's native kernels load (../native.ts) and were measured faster here for the
 * class of product (plain, transposed, batched), it is theirs instead: transposes are strides there
 * and a batch is one call, so none of the above is needed.
 *
 * The backend's _FusedMatMul also adds the bias wrongly when the batch is larger than one, and
 * takes only a bias of one value per column. Ours gives it only single products, and otherwise
 * multiplies, adds the bias and applies the activation with the backend's own kernels, as the cpu
 * backend does.
 */
import { nativeKernels, type ProductClass } from '../native';
import { tf } from '../tf';
import { nativeProduct } from './nativeProduct';
import {
  callKernel,
  disposeIntermediate,
  input,
  replacing,
  withShape,
  wasmBackendOf,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasmBackend';

/** The wasm backend's own kernels, captured before ours replace them. */
export interface WasmMatMulOriginals {
  batchMatMul: tf.KernelConfig;
  fusedMatMul: tf.KernelConfig;
  transpose: tf.KernelConfig;
}

/**
 * Below this many multiply-adds per batch entry, the backend's batched loop beats one XNNPACK
 * product per entry (each packs its weights afresh).
 */
const minSliceWork = 8 * 1024;

const untransposedAttrs = { transposeA: false, transposeB: false };

/** Tensors a kernel makes for itself, freed when it is done. */
class Scratch {
  private readonly made: TensorInfo[] = [];
  constructor(private readonly backend: WasmBackend) {}
  keep(info: TensorInfo): TensorInfo {
    this.made.push(info);
    return info;
  }
  dispose(): void {
    for (const info of this.made) disposeIntermediate(this.backend, info);
  }
}

/** x with its last two axes swapped, as a new tensor the caller must dispose. */
function transposeLastTwo(x: TensorInfo, backend: WasmBackend, transpose: tf.KernelConfig): TensorInfo {
  const outer = x.shape.slice(0, -2);
  const [rows, cols] = x.shape.slice(-2) as [number, number];
  const x3d = withShape(x, [tf.util.sizeFromShape(outer), rows, cols]);
  const swapped = callKernel(transpose, backend, { x: x3d }, { perm: [0, 2, 1] });
  // [batch, cols, rows] has the same layout as [...outer, cols, rows].
  return withShape(swapped, [...outer, cols, rows]);
}

function assertInnerDimsMatch(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean) {
  const innerA = a.shape[a.shape.length - (transposeA ? 2 : 1)];
  const innerB = b.shape[b.shape.length - (transposeB ? 1 : 2)];
  tf.util.assert(
    innerA === innerB,
    () =>
      `Error in matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
}

/** a and b as stored untransposed, transposing what the attributes ask for. */
function untransposedOperands(args: KernelArgs, transpose: tf.KernelConfig, scratch: Scratch) {
  const backend = wasmBackendOf(args);
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const a = input(args, 'a');
  const b = input(args, 'b');
  assertInnerDimsMatch(a, b, transposeA, transposeB);
  return {
    a: transposeA ? scratch.keep(transposeLastTwo(a, backend, transpose)) : a,
    b: transposeB ? scratch.keep(transposeLastTwo(b, backend, transpose)) : b,
  };
}

/** Copies `values` into a new tensor of `shape`. */
function tensorOf(backend: WasmBackend, shape: number[], values: Float32Array): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  backend.typedArrayFromHeap(out).set(values);
  return out;
}

/** One XNNPACK product per batch entry; a batch of one on either side is shared. */
function productPerEntry(a: TensorInfo, b: TensorInfo, backend: WasmBackend, single: tf.KernelConfig) {
  const [batchA, m, k] = a.shape as [number, number, number];
  const [batchB, , n] = b.shape as [number, number, number];
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([batch, m, n], 'float32');
  for (let i = 0; i < batch; i++) {
    // Heap views are taken after each allocation, which may move the heap. Every entry's b gets a
    // fresh tensor: the backend caches packed weights by tensor id.
    const view = (x: TensorInfo, entry: number, size: number) =>
      (backend.typedArrayFromHeap(x) as Float32Array).subarray(entry * size, (entry + 1) * size);
    const ai = batchA === 1 ? withShape(a, [m, k]) : tensorOf(backend, [m, k], view(a, i, m * k));
    const bi = batchB === 1 ? withShape(b, [k, n]) : tensorOf(backend, [k, n], view(b, i, k * n));
    const product = callKernel(single, backend, { a: ai, b: bi }, untransposedAttrs);
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(product), i * m * n);
    disposeIntermediate(backend, product);
    if (batchA !== 1) disposeIntermediate(backend, ai);
    if (batchB !== 1) disposeIntermediate(backend, bi);
  }
  return out;
}

/** a·b for untransposed float32 operands of any batch, with the backend's fast single product. */
function product(a: TensorInfo, b: TensorInfo, backend: WasmBackend, originals: WasmMatMulOriginals) {
  const [outerA, outerB] = [a.shape.slice(0, -2), b.shape.slice(0, -2)];
  const [batchA, batchB] = [tf.util.sizeFromShape(outerA), tf.util.sizeFromShape(outerB)];
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 1] as number;
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB), m, n];
  const single = originals.batchMatMul;
  if (batchB === 1 && batchA > 1) {
    // Weights shared across the batch: one [batch·m × k]·[k × n] product has the same layout.
    const out = callKernel(
      single,
      backend,
      { a: withShape(a, [batchA * m, k]), b: withShape(b, [k, n]) },
      untransposedAttrs,
    );
    return withShape(out, outShape);
  }
  const sliceable = batchA === batchB || batchA === 1;
  if (batchA * batchB > 1 && sliceable && m * k * n >= minSliceWork) {
    const out = productPerEntry(withShape(a, [batchA, m, k]), withShape(b, [batchB, k, n]), backend, single);
    return withShape(out, outShape);
  }
  return callKernel(single, backend, { a, b }, untransposedAttrs);
}

/**
 * a·b (each transposed as the attributes say) by the native kernels, in one call for the whole
 * batch, where they load and were measured faster for this class of product here; undefined
 * otherwise, and for a batch that broadcasts both ways ([2, 1] with [1, 3]), left to the rest.
 */
function viaNative(args: KernelArgs): TensorInfo | undefined {
  const backend = wasmBackendOf(args);
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const a = input(args, 'a');
  const b = input(args, 'b');
  assertInnerDimsMatch(a, b, transposeA, transposeB);
  const [outerA, outerB] = [a.shape.slice(0, -2), b.shape.slice(0, -2)];
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = tf.util.sizeFromShape(outer);
  const [batchA, batchB] = [tf.util.sizeFromShape(outerA), tf.util.sizeFromShape(outerB)];
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  // Weights shared by a batch make one product on the wasm path too; other batches are many.
  const work: ProductClass =
    batch > 1 && batchB !== 1 ? 'batched' : transposeA || transposeB ? 'transposed' : 'product';
  const native = nativeKernels(work);
  if (!native) return undefined;
  const [rowsA, colsA] = a.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [colsA, rowsA] : [rowsA, colsA];
  const n = b.shape[b.shape.length - (transposeB ? 2 : 1)] as number;
  const out = backend.makeOutput([...outer, m, n], 'float32');
  nativeProduct(backend, native, a, b, out, {
    m,
    n,
    k,
    transposeA,
    transposeB,
    batch,
    sharedA: batchA === 1,
    sharedB: batchB === 1,
  });
  return out;
}

function batchMatMul(args: KernelArgs, originals: WasmMatMulOriginals): TensorInfo {
  const backend = wasmBackendOf(args);
  if (input(args, 'a').dtype !== 'float32' || input(args, 'b').dtype !== 'float32') {
    return callKernel(originals.batchMatMul, backend, args.inputs, args.attrs ?? {});
  }
  const fromNative = viaNative(args);
  if (fromNative) return fromNative;
  const scratch = new Scratch(backend);
  try {
    const { a, b } = untransposedOperands(args, originals.transpose, scratch);
    return product(a, b, backend, originals);
  } finally {
    scratch.dispose();
  }
}

function wasmKernel(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, 'wasm') as tf.KernelConfig | undefined;
  if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
  return config;
}

/** activation(x), with the backend's own element-wise kernels (x itself for linear). */
function activate(x: TensorInfo, args: KernelArgs, backend: WasmBackend): TensorInfo {
  const { activation, leakyreluAlpha } = args.attrs as unknown as tf._FusedMatMulAttrs;
  const unary: Record<string, string> = { relu: tf.Relu, relu6: tf.Relu6, elu: tf.Elu, sigmoid: tf.Sigmoid };
  if (activation === 'linear') return x;
  if (activation === 'leakyrelu') {
    return callKernel(wasmKernel(tf.LeakyRelu), backend, { x }, { alpha: leakyreluAlpha ?? 0.2 });
  }
  if (activation === 'prelu') {
    return callKernel(wasmKernel(tf.Prelu), backend, { x, alpha: input(args, 'preluActivationWeights') }, {});
  }
  const kernel = unary[activation];
  if (kernel === undefined) throw new Error(`_FusedMatMul: activation "${activation}" is not supported`);
  return callKernel(wasmKernel(kernel), backend, { x }, {});
}

function fusedMatMul(args: KernelArgs, originals: WasmMatMulOriginals): TensorInfo {
  const backend = wasmBackendOf(args);
  const { bias, preluActivationWeights } = args.inputs;
  if (input(args, 'a').dtype !== 'float32' || input(args, 'b').dtype !== 'float32') {
    return callKernel(originals.fusedMatMul, backend, args.inputs, args.attrs ?? {});
  }
  const scratch = new Scratch(backend);
  try {
    const fromNative = viaNative(args);
    if (fromNative) return biasAndActivate(fromNative, args, backend, scratch);
    const { a, b } = untransposedOperands(args, originals.transpose, scratch);
    // The op hands the kernel rank-3 operands.
    const [batchA, m, k] = a.shape as [number, number, number];
    const [batchB, , n] = b.shape as [number, number, number];
    // The backend's kernel reads bias and PReLU weights as one value per output column.
    const perColumn = (x: TensorInfo | undefined) =>
      x === undefined || (x.shape.length === 1 && x.shape[0] === n);
    if (perColumn(bias) && perColumn(preluActivationWeights) && batchB === 1) {
      // One product (weights shared across a batch fold into it): the backend's fused kernel.
      const folded = withShape(a, [1, batchA * m, k]);
      const out = callKernel(
        originals.fusedMatMul,
        backend,
        { ...args.inputs, a: folded, b },
        {
          ...args.attrs,
          ...untransposedAttrs,
        },
      );
      return withShape(out, [batchA, m, n]);
    }
    return biasAndActivate(product(a, b, backend, originals), args, backend, scratch);
  } finally {
    scratch.dispose();
  }
}

/** activation(product + bias), with the backend's own element-wise kernels. */
function biasAndActivate(product: TensorInfo, args: KernelArgs, backend: WasmBackend, scratch: Scratch) {
  const { bias } = args.inputs;
  let out = product;
  if (bias !== undefined) {
    scratch.keep(out);
    out = callKernel(wasmKernel(tf.Add), backend, { a: product, b: bias }, {});
  }
  const activated = activate(out, args, backend);
  if (activated !== out) scratch.keep(out);
  return activated;
}

export function matMulConfigs(originals: WasmMatMulOriginals): tf.KernelConfig[] {
  return [
    replacing(originals.batchMatMul, (args) => batchMatMul(args, originals)),
    replacing(originals.fusedMatMul, (args) => fusedMatMul(args, originals)),
  ];
}
