// GFLOP/s of matMul at a small transformer's sizes (batch·tokens 512, width 128, MLP 512,
// 8×4 attention heads of 64 tokens × 32): untransposed, transposeA and transposeB (the gradients),
// on cpu; on wasm with its own kernels (XNNPACK), with the project's wasm kernels, with the native
// product forced on for each instruction set the CPU has, and as the load-time check chose.
// Usage: node bench/ts.js bench/matmul.ts [msPerCell]   (VRFT_NATIVE_ISA=avx2 to start narrower)
import {
  describeNativeUse,
  engineLabel,
  initEngine,
  loadedNativeKernels,
  matMulFlops,
  msPerCall,
  nativeIsas,
  nativeStatus,
  registerWasmKernels,
  setNativeKernelsEnabled,
  tf,
  unregisterWasmKernels,
} from '../src/main/engine';

const msPerCell = Number(process.argv[2] ?? 300);

interface Case {
  label: string;
  batch: number[];
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
}

const cases: Case[] = [
  {
    label: 'x·W        [512×128]·[128×128]',
    batch: [],
    m: 512,
    k: 128,
    n: 128,
    transposeA: false,
    transposeB: false,
  },
  {
    label: 'xᵀ·dy      [512×128]ᵀ·[512×128]',
    batch: [],
    m: 128,
    k: 512,
    n: 128,
    transposeA: true,
    transposeB: false,
  },
  {
    label: 'dy·Wᵀ      [512×128]·[128×128]ᵀ',
    batch: [],
    m: 512,
    k: 128,
    n: 128,
    transposeA: false,
    transposeB: true,
  },
  {
    label: 'x·W (MLP)  [512×128]·[128×512]',
    batch: [],
    m: 512,
    k: 128,
    n: 512,
    transposeA: false,
    transposeB: false,
  },
  {
    label: 'xᵀ·dy      [512×128]ᵀ·[512×512]',
    batch: [],
    m: 128,
    k: 512,
    n: 512,
    transposeA: true,
    transposeB: false,
  },
  {
    label: 'dy·Wᵀ      [512×512]·[128×512]ᵀ',
    batch: [],
    m: 512,
    k: 512,
    n: 128,
    transposeA: false,
    transposeB: true,
  },
  {
    label: 'q·kᵀ       32×[64×32]·[64×32]ᵀ',
    batch: [32],
    m: 64,
    k: 32,
    n: 64,
    transposeA: false,
    transposeB: true,
  },
  {
    label: 'att·v      32×[64×64]·[64×32]',
    batch: [32],
    m: 64,
    k: 64,
    n: 32,
    transposeA: false,
    transposeB: false,
  },
  {
    label: 'attᵀ·dy    32×[64×64]ᵀ·[64×32]',
    batch: [32],
    m: 64,
    k: 64,
    n: 32,
    transposeA: true,
    transposeB: false,
  },
];

/** A column: what runs the product (the native kernels per instruction set the CPU has). */
type Column = string;
const rounds = 4;

/**
 * Best GFLOP/s over a few rounds for each configuration, alternating between them (in turned
 * order every other round) so that load from other processes affects all alike.
 */
function measure(c: Case, configurations: { column: Column; before: () => void }[]) {
  const a = tf.randomNormal([...c.batch, ...(c.transposeA ? [c.k, c.m] : [c.m, c.k])]);
  const b = tf.randomNormal([...c.batch, ...(c.transposeB ? [c.n, c.k] : [c.k, c.n])]);
  const flops = c.batch.reduce((x, y) => x * y, 1) * matMulFlops(c.m, c.k, c.n);
  const best = new Map<Column, number>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? configurations : [...configurations].reverse();
    for (const { column, before } of order) {
      before();
      const ms = msPerCall(() => tf.matMul(a, b, c.transposeA, c.transposeB), msPerCell / rounds);
      best.set(column, Math.max(best.get(column) ?? 0, flops / ms / 1e6));
    }
  }
  tf.dispose([a, b]);
  return best;
}

const results = new Map<string, Map<Column, number>>(cases.map((c) => [c.label, new Map()]));
await initEngine({ force: 'cpu' });
for (const c of cases) {
  for (const [column, value] of measure(c, [{ column: 'cpu', before: () => {} }]))
    results.get(c.label)!.set(column, value);
}
await initEngine({ force: 'wasm' });
const native = loadedNativeKernels();
const isas = native ? nativeIsas(native) : [];
const chosen = native?.isa();
const configurations: { column: Column; before: () => void }[] = [
  { column: 'XNNPACK', before: () => (unregisterWasmKernels(), setNativeKernelsEnabled(false)) },
  { column: 'project, wasm', before: () => (registerWasmKernels(), setNativeKernelsEnabled(false)) },
  // Every shape class forced onto the native product, whatever the load-time check chose.
  ...isas.map((isa) => ({
    column: `native ${isa}`,
    before: () => (registerWasmKernels(), setNativeKernelsEnabled('all'), native!.isa(isa)),
  })),
  {
    column: 'project (as chosen)',
    before: () => (registerWasmKernels(), setNativeKernelsEnabled(true), native?.isa(chosen)),
  },
];
for (const c of cases) {
  for (const [column, value] of measure(c, configurations)) results.get(c.label)!.set(column, value);
}
registerWasmKernels();
setNativeKernelsEnabled(true);
native?.isa(chosen);

const columns = ['cpu', ...configurations.map((c) => c.column)];
const labelWidth = Math.max(...cases.map((c) => c.label.length));
const cell = (text: string) => text.padStart(Math.max(12, text.length + 2));
console.log(
  `${engineLabel(await initEngine({ force: 'wasm' }))}; native kernels: ${describeNativeUse(nativeStatus())}`,
);
console.log(`GFLOP/s, float32, best of ${rounds} rounds, ${msPerCell} ms per cell (higher is better)\n`);
console.log(
  `${'matMul'.padEnd(labelWidth)}${columns.map((col) => cell(col)).join('')}${cell('chosen/XNNPACK')}`,
);
for (const c of cases) {
  const r = results.get(c.label)!;
  const value = (column: Column) => r.get(column) ?? NaN;
  const speedup = value('project (as chosen)') / value('XNNPACK');
  console.log(
    `${c.label.padEnd(labelWidth)}${columns.map((col) => cell(value(col).toFixed(2)).padStart(cell(col).length)).join('')}${cell(`${speedup.toFixed(2)}×`).padStart(16)}`,
  );
}
