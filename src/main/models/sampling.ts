/**
 * Drawing the next token, shared by every policy: the temperature-scaled distribution (whose
 * log-prob TRL trains on), narrowed to the top-p nucleus for the draw only; greedy at temperature 0
 * (its log-probs then of the unscaled distribution).
 */
import { softmaxWeights } from '../engine/softmaxWeights';

/** Scratch for drawToken's probabilities: one buffer reused (a vocabulary is 151,936 wide for Qwen). */
let scratch = new Float64Array(0);

/** Draws one token from logits/temperature, restricted to the top-p nucleus; returns it and its log-prob. */
export function drawToken(
  logits: Float32Array,
  temperature: number,
  topP: number,
  random: () => number,
): { token: number; logProb: number; entropy: number } {
  const n = logits.length;
  // Greedy decoding (temperature 0) reports the model's own log-probs, of temperature 1.
  const t = temperature > 0 ? temperature : 1;
  if (scratch.length < n) scratch = new Float64Array(n);
  const weights = scratch; // exp(x/t − max): the probabilities times `sum`
  // weighted: Σ weight · (x/t − max)
  const { best, max, sum, weighted } = softmaxWeights(logits, t, weights);
  const logSum = Math.log(sum);
  // −Σ p log p with p = w/sum and log p = z − log sum.
  const entropy = logSum - weighted / sum;
  const logProbOf = (i: number) => logits[i]! / t - max - logSum;
  if (temperature <= 0) return { token: best, logProb: logProbOf(best), entropy };
  if (topP >= 1) {
    let r = random() * sum;
    for (let i = 0; i < n; i++) {
      r -= weights[i]!;
      if (r < 0) return { token: i, logProb: logProbOf(i), entropy };
    }
    return { token: n - 1, logProb: logProbOf(n - 1), entropy };
  }
  // The nucleus is a prefix of the tokens by falling probability. Only tokens above a cutoff whose
  // mass reaches top-p need sorting: every token left out is less likely than every one kept.
  let order: number[] = [];
  for (let cutoff = sum * 1e-6; ; cutoff *= 1e-3) {
    order = [];
    let kept = 0;
    for (let i = 0; i < n; i++)
      if (weights[i]! >= cutoff) {
        order.push(i);
        kept += weights[i]!;
      }
    if (kept / sum >= topP || order.length === n || cutoff === 0) break;
  }
  order.sort((a, b) => weights[b]! - weights[a]! || a - b);
  const candidates: number[] = [];
  let mass = 0;
  for (const i of order) {
    candidates.push(i);
    mass += weights[i]! / sum;
    if (mass >= topP) break;
  }
  let total = 0;
  for (const i of candidates) total += weights[i]!;
  let r = random() * total;
  let token = candidates[candidates.length - 1]!;
  for (const i of candidates) {
    r -= weights[i]!;
    if (r < 0) {
      token = i;
      break;
    }
  }
  return { token, logProb: logProbOf(token), entropy };
}

/** A batch of rows being decoded: the next-token logits, and a way to feed each row its next token. */
export interface RowDecoder {
  /** [rows, vocab], owned by the decoder. */
  logits(): { values: Float32Array; vocab: number };
  /** Feeds one token per row (finished rows get the filler). */
  step(next: number[]): void;
  dispose(): void;
}

export interface DecodedRow {
  tokenIds: number[];
  logProbs: number[];
  entropies: number[];
  truncated: boolean;
}

/**
 * Draws up to `maxNewTokens` per row until each meets an end token: the loop every policy's
 * `sample` shares. Finished rows are fed `filler` while the others go on.
 */
export function decodeRows(
  decoder: RowDecoder,
  rows: number,
  o: { temperature: number; topP: number; maxNewTokens: number },
  random: () => number,
  isEnd: (token: number) => boolean,
  filler: number,
): DecodedRow[] {
  const out: DecodedRow[] = Array.from({ length: rows }, () => ({
    tokenIds: [],
    logProbs: [],
    entropies: [],
    truncated: true,
  }));
  try {
    for (let t = 0; t < o.maxNewTokens; t++) {
      const { values, vocab } = decoder.logits();
      const next = out.map((row, r) => {
        if (!row.truncated) return filler;
        const drawn = drawToken(values.subarray(r * vocab, (r + 1) * vocab), o.temperature, o.topP, random);
        row.tokenIds.push(drawn.token);
        row.logProbs.push(drawn.logProb);
        row.entropies.push(drawn.entropy);
        if (isEnd(drawn.token)) row.truncated = false;
        return drawn.token;
      });
      if (out.every((row) => !row.truncated) || t === o.maxNewTokens - 1) break;
      decoder.step(next);
    }
  } finally {
    decoder.dispose();
  }
  return out;
}
