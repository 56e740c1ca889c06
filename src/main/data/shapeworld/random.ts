/**
 * ShapeWorld's only source of randomness: a seeded mulberry32 stream, and a hash that derives
 * independent seeds from (seed, index, …) so image i of a dataset never depends on images before it.
 */

/** Mixes 32-bit words into one seed (murmur3's finaliser after each word). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const word of [...splitWord(seed), ...parts.flatMap(splitWord)]) {
    h = Math.imul(h ^ word, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Any safe integer as two 32-bit words, so 2^32 + 1 and 1 are different seeds. */
function splitWord(n: number): number[] {
  if (!Number.isSafeInteger(n)) throw new Error(`seeds are whole numbers, got ${n}`);
  return [n >>> 0, Math.floor(n / 4294967296) >>> 0];
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = deriveSeed(seed);
  }

  /** Uniform on [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform on [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer on [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
