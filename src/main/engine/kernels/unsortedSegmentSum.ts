/**
 * UnsortedSegmentSum for the wasm backend, which lacks it. It is the gradient of tf.gather (every
 * embedding lookup): out[ids[i]] += x[i]. The cpu backend's version builds one mask per segment
 * (O(segments × size)); this one is a single pass over x in the wasm heap. Ids outside
 * [0, numSegments) are dropped, as on cpu and in TensorFlow.
 */
import { tf } from '../tf';
import { input, wasmBackendOf, type KernelArgs, type TensorInfo } from './wasmBackend';

function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const backend = wasmBackendOf(args);
  const x = input(args, 'x');
  const segmentIds = input(args, 'segmentIds');
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const idsRank = segmentIds.shape.length;
  tf.util.assert(
    tf.util.arraysEqual(x.shape.slice(0, idsRank), segmentIds.shape),
    () => `UnsortedSegmentSum: segmentIds shape ${segmentIds.shape} must prefix x shape ${x.shape}`,
  );
  const rowShape = x.shape.slice(idsRank);
  const row = tf.util.sizeFromShape(rowShape);
  const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
  // Views on the heap only after makeOutput: an allocation may grow (and so move) the heap.
  const sums = backend.typedArrayFromHeap(out);
  const values = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  sums.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i] as number;
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * row;
    const to = segment * row;
    for (let j = 0; j < row; j++) sums[to + j] = (sums[to + j] as number) + (values[from + j] as number);
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as tf.KernelFunc,
};
