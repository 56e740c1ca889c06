import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { AdamW, clipScale, globalNorm, readGradients } from '../../src/main/train/optimizer';

/** torch.optim.AdamW with clip_grad_norm_, written by tools/reference/adamw.py. */
interface Reference {
  maxNorm: number;
  weightDecay: number;
  shapes: Record<string, number[]>;
  start: Record<string, number[]>;
  steps: { lr: number; grads: Record<string, number[]>; norm: number }[];
  end: Record<string, number[]>;
  moments: Record<string, { m: number[]; v: number[] }>;
}

const reference = JSON.parse(
  readFileSync(path.join(__dirname, '../fixtures/optimizer/adamw.json'), 'utf8'),
) as Reference;

function expectClose(actual: ArrayLike<number>, expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((x, i) =>
    expect(Math.abs(actual[i]! - x)).toBeLessThan(tolerance * Math.max(1, Math.abs(x))),
  );
}

describe('AdamW', () => {
  it("takes torch.optim.AdamW's steps, clipped as clip_grad_norm_ clips (matrices decay, vectors do not)", () => {
    const params = new Map(
      Object.entries(reference.start).map(([name, values]) => [
        name,
        tf.variable(tf.tensor(values, reference.shapes[name])),
      ]),
    );
    const optimizer = new AdamW(params, { weightDecay: reference.weightDecay });
    for (const step of reference.steps) {
      const grads = new Map(Object.entries(step.grads).map(([name, g]) => [name, Float32Array.from(g)]));
      const norm = globalNorm(grads);
      expect(norm).toBeCloseTo(step.norm, 5);
      optimizer.apply(grads, step.lr, clipScale(norm, reference.maxNorm));
    }
    for (const [name, p] of params) expectClose(p.dataSync(), reference.end[name]!, 1e-6);
    const state = optimizer.state();
    for (const [name, { m, v }] of Object.entries(reference.moments)) {
      expectClose(state.get(`m.${name}`)!.data, m, 1e-6);
      expectClose(state.get(`v.${name}`)!.data, v, 1e-6);
    }
    // The steps made no tensors beyond the weights they replaced.
    const before = tf.memory().numTensors;
    optimizer.apply(new Map([...params].map(([n, p]) => [n, new Float32Array(p.size)])), 1e-3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...params.values()]);
  });

  it('restores its moments and step from state(): the next step is the same', () => {
    const make = () => new Map([['w', tf.variable(tf.tensor2d([1, -2, 3, 4], [2, 2]))]]);
    const grads = (k: number) => new Map([['w', Float32Array.from([0.1 * k, -0.2, 0.3, k])]]);
    const [a, b] = [make(), make()];
    const first = new AdamW(a);
    for (let k = 1; k <= 3; k++) first.apply(grads(k), 1e-2);
    const second = new AdamW(b);
    b.get('w')!.assign(a.get('w')!);
    second.load(first.state(), first.step);
    first.apply(grads(4), 1e-2);
    second.apply(grads(4), 1e-2);
    expect([...b.get('w')!.dataSync()]).toEqual([...a.get('w')!.dataSync()]);
    expect(() => second.load(new Map([['m.w', { shape: [3], data: new Float32Array(3) }]]), 1)).toThrow(
      /m\.w has 3 values, the model 4/,
    );
    expect(() => second.apply(new Map([['x', new Float32Array(4)]]), 1e-2)).toThrow(/x is not a weight/);
    expect(() => second.apply(new Map([['w', new Float32Array(3)]]), 1e-2)).toThrow(
      /4 values, its gradient 3/,
    );
    tf.dispose([...a.values(), ...b.values()]);
  });

  it('clips only above the norm, and never on a norm that is not finite', () => {
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(4, 1)).toBeCloseTo(0.25, 6);
    expect(clipScale(4, 0)).toBe(1);
    expect(clipScale(Number.NaN, 1)).toBe(1);
    expect(clipScale(Number.POSITIVE_INFINITY, 1)).toBe(1);
    const before = tf.memory().numTensors;
    const grads = readGradients(new Map([['g', tf.tensor1d([3, 4])]]));
    expect(globalNorm(grads)).toBe(5);
    expect(tf.memory().numTensors).toBe(before); // read, then freed
  });
});
