// The native e^x (the wasm backend's Exp kernel, on every instruction set the CPU has) against
// Math.exp over the whole float range, and the native pass of drawToken's weights against its
// JavaScript one: the same tokens, log-probs and entropies.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initEngine, setNativeKernelsEnabled, tf } from '../../src/main/engine';
import { loadedNativeKernels, nativeIsas } from '../../src/main/engine/native';
import { softmaxWeights } from '../../src/main/engine/softmaxWeights';
import { drawToken } from '../../src/main/models/sampling';
import { seeded } from '../support/random';

const native = loadedNativeKernels()!;
const best = native.isa();
const isas = nativeIsas(native).filter((isa) => isa !== 'blas');

afterEach(() => {
  native.isa(best);
  setNativeKernelsEnabled(true);
});

/** Every float from −110 to 100 a step apart, then the edges: over- and underflow, ±0, ±∞, NaN. */
function exponents(step: number): Float32Array {
  const edges = [
    88.72,
    88.73,
    89,
    1e30,
    -87.3,
    -87.4,
    -103.9,
    -104,
    -1e30,
    0,
    -0,
    1e-30,
    Infinity,
    -Infinity,
    NaN,
  ];
  const count = Math.floor(210 / step);
  return Float32Array.from([...Array.from({ length: count }, (_, i) => -110 + i * step), ...edges]);
}

const smallestNormal = 2 ** -126;
const smallestSubnormal = 2 ** -149;

/** Where native differs from e^x (to float32) by more than 2 ulp: normal results relative, subnormal ones absolute. */
function misses(x: Float32Array, y: Float32Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < x.length; i++) {
    const exact = Math.exp(x[i]!);
    const want = Math.fround(exact);
    const ok =
      Number.isNaN(want) || want === 0 || want === Infinity
        ? Object.is(y[i], want)
        : want < smallestNormal
          ? Math.abs(y[i]! - exact) <= 2 * smallestSubnormal
          : Math.abs(y[i]! - exact) <= 2 ** -22 * exact;
    if (!ok && out.length < 5) out.push(`e^${x[i]} = ${y[i]}, not ${want}`);
  }
  return out;
}

describe('native e^x', () => {
  it('is within 2 ulp of Math.exp over the whole float range, on every ISA: 0, ∞ and NaN where it is', () => {
    // An odd count, so each ISA's short last vector is checked too.
    const x = exponents(0.0013);
    for (const isa of isas) {
      native.isa(isa);
      const y = new Float32Array(x.length);
      native.exp(x, y);
      expect(misses(x, y), isa).toEqual([]);
    }
  });

  it('runs tf.exp on wasm where chosen, the same to 1e-6 as the cpu backend; the backend’s own where off', async () => {
    const values = exponents(0.37);
    const onCpu = async () => {
      await initEngine({ force: 'cpu' });
      return tf.exp(tf.tensor1d(values)).dataSync().slice();
    };
    const want = await onCpu();
    await initEngine({ force: 'wasm' });
    for (const isa of isas) {
      native.isa(isa);
      setNativeKernelsEnabled('all');
      const kernel = vi.spyOn(native, 'exp');
      const got = tf.tidy(() => tf.exp(tf.tensor1d(values)).dataSync().slice());
      expect(kernel, isa).toHaveBeenCalledTimes(1);
      kernel.mockRestore();
      for (let i = 0; i < values.length; i++)
        if (Number.isFinite(want[i]!) && want[i]! >= smallestNormal)
          expect(Math.abs(got[i]! - want[i]!) / want[i]!, `${isa} e^${values[i]}`).toBeLessThan(1e-6);
        else if (Number.isFinite(want[i]!) && want[i]! > 0)
          // A subnormal result: to its last place or two.
          expect(Math.abs(got[i]! - want[i]!), `${isa} e^${values[i]}`).toBeLessThanOrEqual(
            2 * smallestSubnormal,
          );
        else expect(got[i], `${isa} e^${values[i]}`).toBe(want[i]);
    }
    setNativeKernelsEnabled(false);
    const kernel = vi.spyOn(native, 'exp');
    tf.tidy(() => tf.exp(tf.tensor1d(values)).dataSync());
    expect(kernel).not.toHaveBeenCalled();
    kernel.mockRestore();
  });

  it('takes log-sum-exp and its gradient over a vocabulary as the backend’s own Exp does', async () => {
    await initEngine({ force: 'wasm' });
    const rng = seeded(11);
    const logits = Float32Array.from({ length: 3 * 4099 }, () => (rng.next() - 0.5) * 40);
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(logits, [3, 4099]);
        const [value, grad] = [tf.logSumExp(x, 1), tf.grad((t: tf.Tensor) => tf.sum(tf.logSumExp(t, 1)))(x)];
        return [...value.dataSync(), ...grad.dataSync()];
      });
    setNativeKernelsEnabled(false);
    const want = run();
    setNativeKernelsEnabled('all');
    const got = run();
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
  });
});

describe('native drawToken weights', () => {
  const rng = seeded(5);
  const rows = [
    Float32Array.from({ length: 151936 }, () => (rng.next() - 0.5) * 30),
    Float32Array.from({ length: 1001 }, () => (rng.next() - 0.5) * 4),
    // Ties at the top, a masked-out token, one far below the rest.
    Float32Array.from({ length: 37 }, (_, i) =>
      i === 5 || i === 9 ? 3 : i === 2 ? -Infinity : i === 30 ? -2000 : i / 20,
    ),
  ];

  it('equal the JavaScript pass on every ISA: the max, each weight to 2 ulp, the sums to 1e-12', () => {
    for (const row of rows)
      for (const t of [1, 0.7, 1.3]) {
        setNativeKernelsEnabled(false);
        const jsWeights = new Float64Array(row.length);
        const want = softmaxWeights(row, t, jsWeights);
        setNativeKernelsEnabled('all');
        for (const isa of isas) {
          native.isa(isa);
          const weights = new Float64Array(row.length);
          const got = softmaxWeights(row, t, weights);
          expect([got.best, got.max], isa).toEqual([want.best, want.max]);
          expect(Math.abs(got.sum - want.sum) / want.sum, isa).toBeLessThan(1e-12);
          // Σ w·z is NaN where a logit is −∞ (0 · −∞), in both.
          if (Number.isNaN(want.weighted)) expect(got.weighted).toBeNaN();
          else
            expect(Math.abs(got.weighted - want.weighted) / Math.abs(want.weighted), isa).toBeLessThan(1e-12);
          for (let i = 0; i < row.length; i++)
            expect(Math.abs(weights[i]! - jsWeights[i]!), `${isa} ${i}`).toBeLessThanOrEqual(
              4.5e-16 * jsWeights[i]!,
            );
        }
      }
  });

  it('draw the same tokens, with the same log-probs and entropies to 1e-9, as Math.exp does', () => {
    const draws = seeded(9);
    const settings: [number, number][] = [
      [1, 1],
      [0.7, 1],
      [1, 0.9],
      [0, 1],
    ];
    for (const row of rows.slice(0, 2))
      for (const [temperature, topP] of settings)
        for (let trial = 0; trial < 25; trial++) {
          const u = draws.next();
          setNativeKernelsEnabled(false);
          const want = drawToken(row, temperature, topP, () => u);
          setNativeKernelsEnabled('all');
          const got = drawToken(row, temperature, topP, () => u);
          expect(got.token).toBe(want.token);
          expect(Math.abs(got.logProb - want.logProb)).toBeLessThan(1e-9 * Math.abs(want.logProb));
          expect(Math.abs(got.entropy - want.entropy)).toBeLessThan(1e-9 * Math.abs(want.entropy));
        }
  });
});
