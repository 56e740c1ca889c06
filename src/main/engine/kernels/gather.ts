/**
 * GatherV2 for the wasm backend: out[o, i, …] = x[o, indices[i], …], each gathered slice one copy
 * on the heap. The backend's kernel walks element by element (gathering tiny-vlm's 1,001 number
 * embeddings took 4 ms); this copies whole rows. An index outside [0, size) throws, as on cpu.
 * Batched gathers (batchDims > 0) and other dtypes stay the backend's.
 */
import { tf } from '../tf';
import { input, replacing, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

function gather(args: KernelArgs, original: tf.KernelConfig): TensorInfo {
  const x = input(args, 'x');
  const indices = input(args, 'indices');
  const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
  if (batchDims || (x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32')
    return original.kernelFunc(args) as TensorInfo;
  const backend = wasmBackendOf(args);
  const along = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const size = x.shape[along]!;
  const outer = tf.util.sizeFromShape(x.shape.slice(0, along));
  const row = tf.util.sizeFromShape(x.shape.slice(along + 1));
  const out = backend.makeOutput(
    [...x.shape.slice(0, along), ...indices.shape, ...x.shape.slice(along + 1)],
    x.dtype,
  );
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const id of ids) {
      if (!(id >= 0 && id < size)) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: the index value ${id} is not in [0, ${size - 1}]`);
      }
      const start = (o * size + id) * row;
      to.set(from.subarray(start, start + row), at);
      at += row;
    }
  }
  return out;
}

export function gatherConfig(original: tf.KernelConfig): tf.KernelConfig {
  return replacing(original, (args) => gather(args, original));
}
