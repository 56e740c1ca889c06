/**
 * drawToken against the plain definition: the temperature-scaled softmax, its entropy, the token
 * drawn by inverse CDF (in token order; over the top-p nucleus: by falling probability, ties by index), and
 * the greedy token at temperature 0 with temperature-1 log-probs.
 */
import { describe, expect, it } from 'vitest';
import { drawToken } from '../../src/main/models/sampling';
import { seeded } from '../../src/shared/random';

function reference(logits: Float32Array, temperature: number, topP: number, u: number) {
  const t = temperature > 0 ? temperature : 1;
  const scaled = Array.from(logits, (x) => x / t);
  const max = Math.max(...scaled);
  const exps = scaled.map((z) => Math.exp(z - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  const probs = exps.map((e) => e / sum);
  const entropy = -probs.reduce((a, p) => a + (p > 0 ? p * Math.log(p) : 0), 0);
  if (temperature <= 0) {
    const best = probs.indexOf(Math.max(...probs));
    return { token: best, logProb: Math.log(probs[best]!), entropy };
  }
  // The whole distribution is walked in token order; a nucleus by falling probability.
  const order = probs.map((_, i) => i);
  if (topP < 1) order.sort((a, b) => probs[b]! - probs[a]! || a - b);
  const nucleus: number[] = [];
  let mass = 0;
  for (const i of order) {
    nucleus.push(i);
    mass += probs[i]!;
    if (topP < 1 && mass >= topP) break;
  }
  const total = nucleus.reduce((a, i) => a + probs[i]!, 0);
  let r = u * total;
  let token = nucleus.at(-1)!;
  for (const i of nucleus) {
    r -= probs[i]!;
    if (r < 0) {
      token = i;
      break;
    }
  }
  return { token, logProb: Math.log(probs[token]!), entropy };
}

describe('drawToken', () => {
  const random = seeded(7).next;
  const cases: [number, number][] = [
    [1, 1],
    [0.7, 1],
    [1, 0.9],
    [1.3, 0.5],
    [0, 1],
    [1, 0.01],
  ];
  for (const [temperature, topP] of cases)
    it(`follows the definition at temperature ${temperature}, top-p ${topP}`, () => {
      for (let trial = 0; trial < 40; trial++) {
        const vocab = trial % 2 === 0 ? 50 : 3000;
        const spread = 1 + (trial % 5) * 3;
        const logits = Float32Array.from({ length: vocab }, () => (random() - 0.5) * spread);
        if (trial % 7 === 0) logits[3] = logits[9] = Math.max(...logits) + 2; // a tie at the top
        const u = random();
        const got = drawToken(logits, temperature, topP, () => u);
        const want = reference(logits, temperature, topP, u);
        expect(got.token).toBe(want.token);
        expect(got.logProb).toBeCloseTo(want.logProb, 9);
        expect(got.entropy).toBeCloseTo(want.entropy, 9);
      }
    });
});
