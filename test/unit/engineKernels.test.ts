// The project's wasm kernels against the cpu backend's, on random inputs of several shapes, and
// through the gradients that use them.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  gelu,
  initEngine,
  layerNorm,
  isProjectKernel,
  nativeStatus,
  registerWasmKernels,
  setNativeKernelsEnabled,
  tf,
  unregisterWasmKernels,
} from '../../src/main/engine';
import {
  describeNativeUse,
  loadedNativeKernels,
  nativeIsas,
  nativeKernels,
  productClasses,
  setNativeChoices,
} from '../../src/main/engine/native';
import { seeded } from '../support/random';

type Backend = 'wasm' | 'cpu';
const rng = seeded(20261101);

function randomValues(shape: number[], from = rng): Float32Array {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = from.next() * 2 - 1;
  return values;
}

/** Runs `compute` on a backend (inputs are made inside it, so on that backend); returns plain arrays. */
async function on(backend: Backend, compute: () => tf.Tensor | tf.Tensor[]): Promise<number[][]> {
  await initEngine({ force: backend });
  const outputs = tf.tidy(compute);
  const list = Array.isArray(outputs) ? outputs : [outputs];
  // The shape goes first, so a wrong shape with the right numbers fails too.
  const values = list.map((t) => [...t.shape, Array.from(t.dataSync())].flat());
  tf.dispose(list);
  return values;
}

/** |wasm − cpu| ≤ 1e-5 · max(1, |cpu|): absolute near zero, relative for large values. */
function expectClose(actual: number[][], expected: number[][], label?: string) {
  expect(actual.length, label).toBe(expected.length);
  actual.forEach((values, t) => {
    const reference = expected[t] as number[];
    expect(values.length, label).toBe(reference.length);
    let worst = 0;
    values.forEach((v, i) => {
      const e = reference[i] as number;
      worst = Math.max(worst, Math.abs(v - e) / Math.max(1, Math.abs(e)));
    });
    expect(worst, label).toBeLessThanOrEqual(1e-5);
  });
}

async function expectWasmEqualsCpu(compute: () => tf.Tensor | tf.Tensor[]) {
  const wasm = await on('wasm', compute);
  const cpu = await on('cpu', compute);
  expectClose(wasm, cpu);
}

beforeAll(async () => {
  await initEngine({ force: 'wasm' });
});

describe('the kernels on wasm are the project’s', () => {
  it('registers UnsortedSegmentSum, the convolution and its gradients, BatchMatMul, _FusedMatMul, Identity, Sum and GatherV2 on wasm', () => {
    const names = [
      'UnsortedSegmentSum',
      'Conv2D',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'BatchMatMul',
      '_FusedMatMul',
      'Identity',
      'Sum',
      'GatherV2',
    ];
    for (const name of names) {
      expect(isProjectKernel(name), name).toBe(true);
    }
  });

  it('unregistering restores the backend’s own kernels, and registering again is idempotent', () => {
    const ours = tf.getKernel('BatchMatMul', 'wasm');
    unregisterWasmKernels();
    try {
      expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
      expect(tf.getKernel('BatchMatMul', 'wasm')).not.toBe(ours);
      expect(isProjectKernel('BatchMatMul')).toBe(false);
    } finally {
      registerWasmKernels();
      registerWasmKernels();
    }
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(ours);
  });
});

describe('the native kernels', () => {
  // npm install builds them (scripts/build-native.js); CI's machine has the compiler they need.
  it('load here, on the widest instruction set the CPU has', async () => {
    const report = await initEngine({ force: 'wasm' });
    expect(nativeStatus()).toMatchObject({ loaded: true });
    // The platform's BLAS instead, where one loaded and measured faster than ours.
    expect(report.native?.isa).toMatch(/^(avx512f|avx2|sse2|neon|baseline|blas)$/);
  });

  it('run each class of work only where the load-time check found them faster', async () => {
    await initEngine({ force: 'wasm' });
    const status = nativeStatus();
    // The check ran at load and measured every class, whichever way each went on this machine.
    expect(Object.keys(status.classes ?? {}).sort()).toEqual([...productClasses].sort());
    for (const choice of Object.values(status.classes ?? {})) {
      expect(choice.ratio).toBeGreaterThan(0);
      expect(choice.native).toBe(choice.ratio < 1.1);
    }
    const native = nativeKernels('product')!;
    const gemm = vi.spyOn(native, 'gemm');
    const [x, w] = [tf.randomNormal([8, 16]), tf.randomNormal([16, 4])];
    const measured = status.classes;
    try {
      // As if plain products had measured slower natively here, transposed ones faster.
      setNativeChoices({ product: { native: false, ratio: 1.5 }, transposed: { native: true, ratio: 0.4 } });
      tf.matMul(x, w).dispose();
      expect(gemm).not.toHaveBeenCalled();
      tf.matMul(x, x, true, false).dispose();
      expect(gemm).toHaveBeenCalledTimes(1);
      expect(describeNativeUse(nativeStatus())).toMatch(
        /^\w+ for transposed 0\.40× the wasm time; wasm for product \(native took 1\.50× the wasm time\), where it measured faster(; the platform's BLAS took .*)?$/,
      );
      // 'all' overrides the check (the numbers tests below run every class natively).
      setNativeKernelsEnabled('all');
      tf.matMul(x, w).dispose();
      expect(gemm).toHaveBeenCalledTimes(2);
    } finally {
      setNativeKernelsEnabled(true);
      setNativeChoices(measured);
      gemm.mockRestore();
      tf.dispose([x, w]);
    }
  });

  it('run a narrower instruction set than the widest with VRFT_NATIVE_ISA, and say when the CPU lacks it', async () => {
    for (const [isa, expected] of [
      ['sse2', { loaded: true, isa: 'sse2' }],
      [
        'mmx',
        { loaded: false, reason: expect.stringMatching(/^VRFT_NATIVE_ISA=mmx, but this CPU cannot run it/) },
      ],
    ] as const) {
      if (process.arch !== 'x64' && isa === 'sse2') continue;
      vi.stubEnv('VRFT_NATIVE_ISA', isa);
      vi.resetModules();
      try {
        const fresh = await import('../../src/main/engine/native');
        expect(fresh.nativeStatus()).toEqual(expected);
      } finally {
        vi.unstubAllEnvs();
        vi.resetModules();
      }
    }
  });

  it('are off with VRFT_NATIVE=0, saying so', async () => {
    vi.stubEnv('VRFT_NATIVE', '0');
    vi.resetModules();
    try {
      const fresh = await import('../../src/main/engine/native');
      expect(fresh.nativeKernels('product')).toBeUndefined();
      expect(fresh.nativeStatus()).toEqual({ loaded: false, reason: 'off: VRFT_NATIVE=0' });
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('every product the CPU can run (AVX-512, AVX2, SSE2) equals a float64 reference', () => {
    const native = loadedNativeKernels()!;
    const best = native.isa();
    const isas = nativeIsas(native);
    // Its own random values, so the other tests' stay as they were.
    const own = seeded(20261122);
    // Sizes around the register blocks (12 × 32, 6 × 16, 6 × 8, 8 × 8), each operand transposed or
    // not; the last crosses the row block (96) and every ISA's k block (192, 384, 768), so c is
    // accumulated over several.
    const cases = [
      [1, 1, 1],
      [7, 33, 5],
      [13, 17, 129],
      [25, 31, 64],
      [100, 40, 800],
    ];
    try {
      for (const isa of isas) {
        native.isa(isa);
        for (const [m, n, k] of cases as [number, number, number][]) {
          for (const [ta, tb] of transposes) {
            const [a, b] = [randomValues([2, m, k], own), randomValues([2, k, n], own)];
            const c = new Float32Array(2 * m * n);
            native.gemm(a, b, c, 2, m, n, k, m * k, ta ? 1 : k, ta ? m : 1, k * n, tb ? 1 : n, tb ? k : 1);
            let worst = 0;
            for (let e = 0; e < 2; e++)
              for (let i = 0; i < m; i++)
                for (let j = 0; j < n; j++) {
                  let sum = 0;
                  for (let q = 0; q < k; q++)
                    sum +=
                      a[e * m * k + (ta ? q * m + i : i * k + q)]! *
                      b[e * k * n + (tb ? j * k + q : q * n + j)]!;
                  worst = Math.max(worst, Math.abs(c[e * m * n + i * n + j]! - sum));
                }
            expect(worst, `${isa} ${m}×${n}×${k} ta=${ta} tb=${tb}`).toBeLessThan(
              1e-5 * Math.max(1, k / 128),
            );
          }
        }
      }
    } finally {
      native.isa(best);
    }
    expect(isas.length, isas.join(', ')).toBeGreaterThanOrEqual(process.arch === 'x64' ? 2 : 1);
  });

  it('refuse operands their strides would read past, and arguments of the wrong kind', async () => {
    const native = loadedNativeKernels()!;
    const [a, b, c] = [new Float32Array(6), new Float32Array(6), new Float32Array(4)];
    native.gemm(a, b, c, 1, 2, 2, 3, 0, 3, 1, 0, 2, 1);
    expect(() => native.gemm(a, b, c, 1, 2, 2, 4, 0, 4, 1, 0, 2, 1)).toThrow(/reads past an operand/);
    expect(() => native.gemm(a, b, c, 2, 2, 2, 3, 0, 3, 1, 0, 2, 1)).toThrow(/c is too short/);
    expect(() => native.gemm(a, b, [] as never, 1, 2, 2, 3, 0, 3, 1, 0, 2, 1)).toThrow(/Float32Arrays/);
    expect(() => native.im2col(a, c, new Int32Array(3))).toThrow(/geometry/);
  });
});

describe('Identity', () => {
  it('shares the data instead of copying it; a clone outlives its source and frees it last', async () => {
    await initEngine({ force: 'wasm' });
    const backend = tf.backend() as unknown as { refCount(id: object): number };
    const tensors = tf.memory().numTensors;
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([2, 3]);
    y.dispose();
    expect(backend.refCount(y.dataId)).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('gradients through the tensors kept for the backward pass equal cpu', async () => {
    const [a, b] = [randomValues([6, 5]), randomValues([5, 4])];
    await expectWasmEqualsCpu(() => {
      const f = (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.tanh(tf.matMul(tf.exp(x), w)));
      return tf.grads(f)([tf.tensor2d(a, [6, 5]), tf.tensor2d(b, [5, 4])]);
    });
  });
});

describe('Cast', () => {
  it('to the dtype a tensor has shares its data; to another converts', async () => {
    await initEngine({ force: 'wasm' });
    const x = tf.tensor1d([1.5, -2, 3]);
    const same = tf.cast(x, 'float32');
    const other = tf.cast(x, 'int32');
    expect(same.dataId).toBe(x.dataId);
    x.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(other.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([same, other]);
  });
});

/** With the native kernels off, a fused op's composite on wasm equals it on cpu. */
async function expectComposite(compute: () => tf.Tensor[]) {
  setNativeKernelsEnabled(false);
  try {
    await expectWasmEqualsCpu(compute);
  } finally {
    setNativeKernelsEnabled(true);
  }
}

describe('fused GELU', () => {
  // Values across the range where the sigmoid saturates both ways, an odd count for the tail.
  const x = randomValues([37, 19]).map((v) => v * 12);
  const dy = randomValues([37, 19]);
  const geluAndGradient = () => {
    const input = tf.tensor2d(x, [37, 19]);
    const [y, grad] = [gelu(input), tf.grad((t: tf.Tensor) => gelu(t))(input, tf.tensor2d(dy, [37, 19]))];
    return [y, grad!];
  };

  it('forward and backward on the native kernels equal the composite on cpu, on every ISA', async () => {
    const native = loadedNativeKernels()!;
    const best = native.isa();
    try {
      for (const isa of nativeIsas(native)) {
        native.isa(isa);
        setNativeKernelsEnabled('all');
        const kernel = vi.spyOn(native, 'gelu');
        await expectWasmEqualsCpu(geluAndGradient);
        expect(kernel, isa).toHaveBeenCalled();
        kernel.mockRestore();
      }
    } finally {
      native.isa(best);
      setNativeKernelsEnabled(true);
    }
  });

  it('falls back to the composite where the native kernels are off', async () => {
    await expectComposite(geluAndGradient);
  });
});

describe('fused layer norm', () => {
  // Rows with offsets and scales of several sizes, so the mean and variance matter.
  const x = randomValues([29, 24]).map((v, i) => v * (1 + (i % 7)) + (i % 5));
  const [gamma, beta, dy] = [randomValues([24]), randomValues([24]), randomValues([29, 24])];
  const normAndGradients = () => {
    const inputs = [tf.tensor2d(x, [29, 24]), tf.tensor1d(gamma), tf.tensor1d(beta)];
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(a, g, b);
    return [f(inputs[0]!, inputs[1]!, inputs[2]!), ...tf.grads(f)(inputs, tf.tensor2d(dy, [29, 24]))];
  };

  it('forward and its three gradients on the native kernels equal the composite on cpu', async () => {
    const native = loadedNativeKernels()!;
    setNativeKernelsEnabled('all');
    const kernels = [vi.spyOn(native, 'layerNorm'), vi.spyOn(native, 'layerNormGrad')];
    try {
      await expectWasmEqualsCpu(normAndGradients);
      for (const kernel of kernels) expect(kernel).toHaveBeenCalled();
    } finally {
      kernels.forEach((k) => k.mockRestore());
      setNativeKernelsEnabled(true);
    }
  });

  it('falls back to the composite where the native kernels are off, or γ is not one value per column', async () => {
    await expectComposite(normAndGradients);
    const native = loadedNativeKernels()!;
    const kernel = vi.spyOn(native, 'layerNorm');
    await expectWasmEqualsCpu(() => [layerNorm(tf.tensor2d(x, [29, 24]), tf.scalar(2), tf.scalar(1))]);
    expect(kernel).not.toHaveBeenCalled();
    kernel.mockRestore();
  });
});

describe('UnsortedSegmentSum equals cpu', () => {
  const cases: { shape: number[]; segments: number }[] = [
    { shape: [7], segments: 4 },
    { shape: [12, 5], segments: 6 },
    { shape: [40, 3, 5], segments: 7 },
    { shape: [9, 2, 3], segments: 1 },
  ];
  for (const { shape, segments } of cases) {
    it(`x ${shape.join('×')} into ${segments} segments (some ids out of range)`, async () => {
      const x = randomValues(shape);
      const ids = Int32Array.from({ length: shape[0] as number }, () => rng.int(-1, segments));
      await expectWasmEqualsCpu(() =>
        tf.unsortedSegmentSum(tf.tensor(x, shape), tf.tensor1d(ids, 'int32'), segments),
      );
    });
  }

  it('int32 values', async () => {
    const x = Int32Array.from({ length: 30 }, () => rng.int(-50, 50));
    const ids = Int32Array.from({ length: 10 }, () => rng.int(0, 3));
    await expectWasmEqualsCpu(() =>
      tf.unsortedSegmentSum(tf.tensor(x, [10, 3], 'int32'), tf.tensor(ids, [10], 'int32'), 4),
    );
  });

  it('is the gradient of gather (an embedding lookup), on axis 0 and axis 1', async () => {
    const table = randomValues([50, 16]);
    const ids = Int32Array.from({ length: 4 * 12 }, () => rng.int(0, 49));
    const weights = randomValues([4, 12, 16]);
    const weights1 = randomValues([16, 4, 12]);
    await expectWasmEqualsCpu(() => {
      const t = tf.tensor(table, [50, 16]);
      const i = tf.tensor(ids, [4, 12], 'int32');
      const g0 = tf.grad((p: tf.Tensor) =>
        tf
          .gather(p, i)
          .mul(tf.tensor(weights, [4, 12, 16]))
          .sum(),
      )(t);
      const g1 = tf.grad((p: tf.Tensor) =>
        tf
          .gather(p.transpose(), i, 1)
          .mul(tf.tensor(weights1, [16, 4, 12]))
          .sum(),
      )(t);
      return [g0, g1];
    });
  });
});

describe('Sum equals cpu', () => {
  // Leading axes (bias gradients) are the project's; the rest fall back to the backend's own.
  const cases: [number[], number | number[], boolean][] = [
    [[400, 128], 0, false],
    [[7, 5], 0, true],
    [[4, 9, 6], [0, 1], false],
    [[4, 9, 6], [1, 0], true],
    [[3, 5, 2, 4], [0, 1, 2], false],
    [[4, 9, 6], -3, false],
    [[4, 9, 6], 2, false],
    [[4, 9, 6], [0, 2], true],
    [[6, 5], [0, 1], false],
    [[11], 0, false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    it(`x ${shape.join('×')} over axis ${JSON.stringify(axis)}${keepDims ? ', dims kept' : ''}`, async () => {
      const x = randomValues(shape);
      await expectWasmEqualsCpu(() => tf.sum(tf.tensor(x, shape), axis, keepDims));
    });
  }

  it('int32 values, and the bias gradient of a dense layer', async () => {
    const ints = Int32Array.from({ length: 24 }, () => rng.int(-50, 50));
    const [x, w, b] = [randomValues([3, 7, 5]), randomValues([5, 4]), randomValues([4])];
    await expectWasmEqualsCpu(() => {
      const summed = tf.sum(tf.tensor(ints, [6, 4], 'int32'), 0);
      const grads = tf.grads((bias: tf.Tensor) =>
        tf
          .matMul(tf.tensor(x, [21, 5]), tf.tensor(w, [5, 4]))
          .add(bias)
          .square()
          .sum(),
      )([tf.tensor(b)]);
      return [summed, ...grads];
    });
  });
});

describe('GatherV2 equals cpu', () => {
  const cases: [number[], number[], number][] = [
    [[1001, 128], [1001], 0],
    [[50, 16], [4, 12], 0],
    [[6, 7, 3], [5], 1],
    [[6, 7, 3], [2, 2], 2],
    [[6, 7, 3], [3], -1],
    [[9], [0], 0],
  ];
  for (const [shape, idsShape, axis] of cases) {
    it(`x ${shape.join('×')} at ${idsShape.join('×')} indices on axis ${axis}`, async () => {
      const x = randomValues(shape);
      const size = shape.at(axis)!;
      const ids = Int32Array.from({ length: idsShape.reduce((a, b) => a * b, 1) }, () =>
        rng.int(0, size - 1),
      );
      await expectWasmEqualsCpu(() =>
        tf.gather(tf.tensor(x, shape), tf.tensor(ids, idsShape, 'int32'), axis),
      );
    });
  }

  it('int32 values, and a batched gather (the backend’s own)', async () => {
    const ints = Int32Array.from({ length: 30 }, () => rng.int(-50, 50));
    const x = randomValues([2, 5, 3]);
    await expectWasmEqualsCpu(() => [
      tf.gather(tf.tensor(ints, [10, 3], 'int32'), tf.tensor1d([9, 0, 9, 3], 'int32')),
      tf.gather(
        tf.tensor(x, [2, 5, 3]),
        tf.tensor(
          [
            [1, 4],
            [0, 0],
          ],
          [2, 2],
          'int32',
        ),
        1,
        1,
      ),
    ]);
  });

  it('an index out of range throws, as on cpu, and leaks nothing', async () => {
    await initEngine({ force: 'wasm' });
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const before = tf.memory().numTensors;
    expect(() => tf.gather(x, tf.tensor1d([0, 2], 'int32'))).toThrow(/index value 2 is not in \[0, 1\]/);
    expect(() => tf.gather(x, tf.tensor1d([-1], 'int32'))).toThrow(/index value -1/);
    expect(tf.memory().numTensors).toBe(before + 2); // the two index tensors, made outside a tidy
    x.dispose();
  });
});

function* product<A, B, C>(as: readonly A[], bs: readonly B[], cs: readonly C[]): Generator<[A, B, C]> {
  for (const a of as) for (const b of bs) for (const c of cs) yield [a, b, c];
}

const transposes: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** Shapes of a and b for an [..batch, m×k]·[..batch, k×n] product, each operand stored transposed if asked. */
function operandShapes(
  batchA: number[],
  batchB: number[],
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
) {
  return { a: [...batchA, ...(ta ? [k, m] : [m, k])], b: [...batchB, ...(tb ? [n, k] : [k, n])] };
}

// Every product and convolution is compared twice: on the native kernels (where they load, as in
// CI) and on the wasm kernels alone.
for (const native of [true, false]) {
  describe(native ? 'with the native kernels' : 'on the wasm kernels alone', () => {
    // Every class on the native kernels, whatever the load-time check chose here.
    beforeAll(() => setNativeKernelsEnabled(native ? 'all' : false));
    afterAll(() => setNativeKernelsEnabled(true));

    describe('BatchMatMul equals cpu', () => {
      // Gradients of a broadcast batch do not reduce on any tfjs backend, so only its product is compared.
      const products: {
        batchA: number[];
        batchB: number[];
        m: number;
        k: number;
        n: number;
        grads: boolean;
      }[] = [
        { batchA: [], batchB: [], m: 33, k: 17, n: 29, grads: true },
        { batchA: [], batchB: [], m: 64, k: 128, n: 32, grads: true },
        { batchA: [3], batchB: [3], m: 8, k: 5, n: 6, grads: true },
        { batchA: [2, 3], batchB: [2, 3], m: 6, k: 4, n: 7, grads: true },
        { batchA: [], batchB: [], m: 1, k: 9, n: 11, grads: true },
        { batchA: [], batchB: [], m: 10, k: 1, n: 1, grads: true },
        { batchA: [1], batchB: [4], m: 5, k: 7, n: 3, grads: false },
        { batchA: [4], batchB: [1], m: 5, k: 7, n: 3, grads: false },
        // Large enough for one XNNPACK product per batch entry (attention's [batch, heads, T, d]).
        { batchA: [3], batchB: [3], m: 32, k: 24, n: 40, grads: true },
        { batchA: [2, 2], batchB: [2, 2], m: 32, k: 16, n: 32, grads: true },
        { batchA: [1], batchB: [4], m: 32, k: 24, n: 40, grads: false },
        // Weights shared across the batch fold into one product.
        { batchA: [4], batchB: [1], m: 32, k: 24, n: 40, grads: false },
        { batchA: [2, 3], batchB: [], m: 16, k: 8, n: 12, grads: false },
      ];
      for (const { batchA, batchB, m, k, n, grads } of products) {
        for (const [ta, tb] of transposes) {
          const label = `[${[...batchA, m, k].join('×')}]·[${[...batchB, k, n].join('×')}] transposeA=${ta} transposeB=${tb}`;
          it(grads ? `${label}, and its gradients` : label, async () => {
            const shapes = operandShapes(batchA, batchB, m, k, n, ta, tb);
            const [a, b] = [randomValues(shapes.a), randomValues(shapes.b)];
            const w = randomValues([...batchA, m, n]);
            await expectWasmEqualsCpu(() => {
              const [x, y] = [tf.tensor(a, shapes.a), tf.tensor(b, shapes.b)];
              const product = tf.matMul(x, y, ta, tb);
              if (!grads) return product;
              const weight = tf.tensor(w, product.shape);
              const loss = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, ta, tb).mul(weight).sum();
              return [product, ...tf.grads(loss)([x, y])];
            });
          });
        }
      }

      it('rejects mismatched inner dimensions like the backend’s own kernel', async () => {
        await initEngine({ force: 'wasm' });
        expect(() => tf.matMul(tf.zeros([3, 4]), tf.zeros([5, 4]), true, true)).toThrow(
          /inner shapes \(3\) and \(4\)/,
        );
      });
    });

    describe('_FusedMatMul equals cpu', () => {
      // One batch goes to the backend's kernel, weights shared across a batch fold into one batch,
      // the rest is composed (the backend's kernel adds the bias wrongly there).
      const batches = [
        { batchA: [], batchB: [] },
        { batchA: [3], batchB: [] },
        { batchA: [2], batchB: [2] },
        { batchA: [1], batchB: [3] },
      ];
      const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
      const [m, k, n] = [9, 12, 7];
      const sizes = [
        [m, k, n],
        [32, 24, 40],
      ] as const;
      for (const activation of activations) {
        it(`${activation} with a bias, for every batch layout, transpose and size`, async () => {
          for (const [{ batchA, batchB }, [ta, tb], [m, k, n]] of product(batches, transposes, sizes)) {
            const shapes = operandShapes(batchA, batchB, m, k, n, ta, tb);
            const [a, b, bias, alpha] = [
              randomValues(shapes.a),
              randomValues(shapes.b),
              randomValues([n]),
              randomValues([n]),
            ];
            const compute = () =>
              tf.fused.matMul({
                a: tf.tensor(a, shapes.a),
                b: tf.tensor(b, shapes.b),
                transposeA: ta,
                transposeB: tb,
                bias: tf.tensor(bias, [n]),
                activation,
                ...(activation === 'prelu' ? { preluActivationWeights: tf.tensor(alpha, [n]) } : {}),
                ...(activation === 'leakyrelu' ? { leakyreluAlpha: 0.15 } : {}),
              });
            expectClose(
              await on('wasm', compute),
              await on('cpu', compute),
              `${shapes.a}·${shapes.b} ${ta} ${tb}`,
            );
          }
        });
      }

      it('a bias that broadcasts from [1] or from [m, n], and no bias', async () => {
        for (const biasShape of [[1], [m, n], undefined]) {
          for (const batchA of [[], [2]]) {
            const [a, b] = [randomValues([...batchA, m, k]), randomValues([n, k])];
            const bias = biasShape && randomValues(biasShape);
            const compute = () =>
              tf.fused.matMul({
                a: tf.tensor(a, [...batchA, m, k]),
                b: tf.tensor(b, [n, k]),
                transposeB: true,
                ...(bias && biasShape ? { bias: tf.tensor(bias, biasShape) } : {}),
                activation: 'relu',
              });
            expectClose(
              await on('wasm', compute),
              await on('cpu', compute),
              `bias ${biasShape} batch ${batchA}`,
            );
          }
        }
      });

      for (const activation of ['linear', 'relu'] as const) {
        for (const [ta, tb] of transposes) {
          it(`gradients of ${activation} with a bias, transposeA=${ta} transposeB=${tb}`, async () => {
            const [m, k, n] = [16, 8, 12];
            const shapes = operandShapes([], [], m, k, n, ta, tb);
            const [a, b, bias, w] = [
              randomValues(shapes.a),
              randomValues(shapes.b),
              randomValues([n]),
              randomValues([m, n]),
            ];
            await expectWasmEqualsCpu(() => {
              const weight = tf.tensor(w, [m, n]);
              const loss = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
                tf.fused
                  .matMul({
                    a: x as tf.Tensor2D,
                    b: y as tf.Tensor2D,
                    transposeA: ta,
                    transposeB: tb,
                    bias: z,
                    activation,
                  })
                  .mul(weight)
                  .sum();
              return tf.grads(loss)([tf.tensor(a, shapes.a), tf.tensor(b, shapes.b), tf.tensor(bias, [n])]);
            });
          });
        }
      }
    });

    describe('Conv2D, Conv2DBackpropFilter and Conv2DBackpropInput equal cpu', () => {
      const cases: [string, number[], number, number, number, number | 'same' | 'valid'][] = [
        ['3×3, stride 1, padding 1 (the stem’s first layer)', [2, 16, 16, 3], 3, 8, 1, 1],
        ['3×3, stride 2, padding 1', [2, 16, 16, 8], 3, 16, 2, 1],
        ['2×2, stride 2, no padding (the conv stems’ last layer)', [3, 8, 8, 16], 2, 12, 2, 0],
        ['5×5, stride 1, same padding', [1, 9, 7, 4], 5, 6, 1, 'same'],
        ['3×3, stride 2, valid, odd size', [2, 11, 13, 5], 3, 7, 2, 'valid'],
        [
          '3×3, stride 1, valid (the input gradient as a convolution, padded by 2)',
          [2, 9, 10, 6],
          3,
          5,
          1,
          'valid',
        ],
        ['2×2, stride 1, same (uneven padding: 0 before, 1 after)', [1, 7, 6, 3], 2, 4, 1, 'same'],
        ['1×1, stride 1 (the cnn stem’s last layer)', [2, 5, 5, 8], 1, 6, 1, 0],
      ];
      for (const [label, xShape, k, out, stride, pad] of cases) {
        it(label, async () => {
          const x = randomValues(xShape);
          const filter = randomValues([k, k, xShape[3]!, out]);
          const compute = () => {
            const xt = tf.tensor4d(x, xShape as [number, number, number, number]);
            const ft = tf.tensor4d(filter, [k, k, xShape[3]!, out]);
            // The convolution and both gradients, each our kernel.
            const conv = (a: tf.Tensor, b: tf.Tensor) =>
              tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
            const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.sin(conv(a, b))))([xt, ft]);
            // Without the native kernels the forward is the backend's own XNNPACK convolution.
            return native ? [conv(xt, ft), ...grads] : grads;
          };
          expect(isProjectKernel(tf.Conv2D)).toBe(true);
          expect(isProjectKernel(tf.Conv2DBackpropFilter)).toBe(true);
          expect(isProjectKernel(tf.Conv2DBackpropInput)).toBe(true);
          await expectWasmEqualsCpu(compute);
        });
      }
    });
  });
}
