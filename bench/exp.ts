// e^x over Qwen's vocabulary, as a GRPO step takes it: ns per value of tf.exp, tf.logSumExp and
// tf.softmax over [8, 151936] logits on wasm with its own Exp and with the native one on each
// instruction set the CPU has, and of drawing a token from one row (drawToken: Math.exp in
// JavaScript against the native double pass). The fastest of `repeats` calls each.
// Usage: node bench/ts.js bench/exp.ts [repeats]   (the GRPO step: bench/qwen-sample.ts)
import {
  describeNativeUse,
  initEngine,
  loadedNativeKernels,
  nativeIsas,
  nativeStatus,
  setNativeKernelsEnabled,
  tf,
} from '../src/main/engine';
import { drawToken } from '../src/main/models/sampling';

const repeats = Number(process.argv[2] ?? 12);
await initEngine({ force: 'wasm' });
console.log(`native: ${describeNativeUse(nativeStatus())}`);
const vocab = 151936;
const logits = tf.mul(tf.randomNormal([8, vocab]), 3) as tf.Tensor2D;
const row = logits.dataSync().slice(0, vocab) as Float32Array;

function nsPerValue(run: () => void, values: number): string {
  let best = Infinity;
  for (let i = 0; i < repeats + 1; i++) {
    const start = performance.now();
    run();
    if (i > 0) best = Math.min(best, performance.now() - start);
  }
  return ((best * 1e6) / values).toFixed(2).padStart(6);
}

const ops: [string, () => tf.Tensor][] = [
  ['exp', () => tf.exp(logits)],
  ['logSumExp', () => tf.logSumExp(logits, 1)],
  ['softmax', () => tf.softmax(logits)],
  ['logSoftmax', () => tf.logSoftmax(logits)],
];
const tensorOps = (label: string) => {
  const cells = ops.map(([name, op]) => `${name} ${nsPerValue(() => op().dispose(), logits.size)}`);
  console.log(`${label.padEnd(22)} ns/value: ${cells.join('  ')}`);
};
const draws = (label: string) =>
  console.log(
    `${label.padEnd(22)} ns/value: drawToken ${nsPerValue(() => drawToken(row, 1, 1, () => 0.5), vocab)}`,
  );

setNativeKernelsEnabled(false);
tensorOps('wasm (its own Exp)');
draws('JavaScript Math.exp');
const native = loadedNativeKernels();
if (native) {
  const chosen = native.isa();
  setNativeKernelsEnabled('all');
  for (const isa of nativeIsas(native).filter((name) => name !== 'blas')) {
    native.isa(isa);
    tensorOps(`native ${isa}`);
    draws(`native ${isa}`);
  }
  native.isa(chosen);
  setNativeKernelsEnabled(true);
}
logits.dispose();
