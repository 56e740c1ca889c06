/**
 * Drawing the next token, shared by every policy: the temperature-scaled distribution (whose
 * log-prob TRL trains on), narrowed to the top-p nucleus for the draw only; greedy at temperature 0
 * (its log-probs then of the unscaled distribution).
 */

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
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]! / t);
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probs[i] = Math.exp(logits[i]! / t - max);
  let entropy = 0;
  for (let i = 0; i < n; i++) {
    probs[i]! /= sum;
    if (probs[i]! > 0) entropy -= probs[i]! * Math.log(probs[i]!);
  }
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (probs[i]! > probs[best]!) best = i;
    return { token: best, logProb: Math.log(probs[best]!), entropy };
  }
  let candidates: number[];
  if (topP < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
    candidates = [];
    let mass = 0;
    for (const i of order) {
      candidates.push(i);
      mass += probs[i]!;
      if (mass >= topP) break;
    }
  } else {
    candidates = Array.from({ length: n }, (_, i) => i);
  }
  let total = 0;
  for (const i of candidates) total += probs[i]!;
  let r = random() * total;
  let token = candidates[candidates.length - 1]!;
  for (const i of candidates) {
    r -= probs[i]!;
    if (r < 0) {
      token = i;
      break;
    }
  }
  return { token, logProb: Math.log(probs[token]!), entropy };
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
