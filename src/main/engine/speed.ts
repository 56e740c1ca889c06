/** A quick matMul speed check on the current backend (doctor, benches). */
import { tf } from './tf';

/** Multiply-adds count twice: an [m×k]·[k×n] product is 2·m·k·n floating-point operations. */
export function matMulFlops(m: number, k: number, n: number): number {
  return 2 * m * k * n;
}

/** Times `run` (which returns a tensor to wait for) for at least `minMs`; returns ms per call. */
export function msPerCall(run: () => tf.Tensor, minMs = 200): number {
  run().dispose(); // warm-up: kernels set up, weights packed, heap grown
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs || calls < 3) {
    const out = run();
    out.dataSync();
    out.dispose();
    calls++;
    elapsed = performance.now() - start;
  }
  return elapsed / calls;
}

/** GFLOP/s of a float32 size×size by size×size matMul on the current backend. */
export function measureMatMulGflops(size = 256, minMs = 200): number {
  const [a, b] = [tf.randomNormal([size, size]), tf.randomNormal([size, size])];
  try {
    return matMulFlops(size, size, size) / msPerCall(() => tf.matMul(a, b), minMs) / 1e6;
  } finally {
    a.dispose();
    b.dispose();
  }
}
