/**
 * Sum over leading axes for the wasm backend: every bias gradient sums [rows, width] over its rows.
 * The backend's Sum reduces only innermost axes, so it transposes first: for tiny-vlm's [~400, 128]
 * bias gradients, 0.14 ms a call and 9 % of a training step. This adds each row into a float64
 * accumulator in one pass over the heap (as the cpu backend accumulates, in JavaScript numbers).
 * Other reductions, and other dtypes, stay the backend's.
 */
import { tf } from '../tf';
import { input, replacing, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

function sum(args: KernelArgs, original: tf.KernelConfig): TensorInfo {
  const x = input(args, 'x');
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return original.kernelFunc(args) as TensorInfo;
  const backend = wasmBackendOf(args);
  const kept = x.shape.slice(axes.length);
  const width = tf.util.sizeFromShape(kept);
  const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  // Heap views only after makeOutput: an allocation may grow (and so move) the heap.
  const values = backend.typedArrayFromHeap(x) as Float32Array;
  const acc = new Float64Array(width);
  const rows = values.length / width;
  let r = 0;
  // Four rows a pass: a quarter of the accumulator's loads and stores.
  for (; r + 4 <= rows; r += 4) {
    const a = r * width;
    const [b, c, d] = [a + width, a + 2 * width, a + 3 * width];
    for (let j = 0; j < width; j++)
      acc[j] = acc[j]! + values[a + j]! + values[b + j]! + values[c + j]! + values[d + j]!;
  }
  for (; r < rows; r++) for (let j = 0; j < width; j++) acc[j] = acc[j]! + values[r * width + j]!;
  (backend.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
}

export function sumConfig(original: tf.KernelConfig): tf.KernelConfig {
  return replacing(original, (args) => sum(args, original));
}
