/**
 * vrft's rewards against the published code's own values: test/fixtures/rewards-upstream/corpus.json,
 * made by tools/reference/rewards-upstream/make_corpus.py running Visual-RFT's and VLM-R1's reward
 * functions verbatim. Every component must agree, except where the case names the row of
 * docs/rewards-vs-upstream.md that says why vrft differs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreCompletion, type RewardContext, type Solution } from '../../src/main/rewards/registry';

interface CorpusCase {
  id: string;
  family: 'visual-rft' | 'vlm-r1-od' | 'vlm-r1-rec';
  completion: string;
  solution: Solution;
  context: RewardContext;
  expected: Record<string, number>;
  differences?: Record<string, string>;
}

const root = join(__dirname, '..', '..');
const corpus = JSON.parse(readFileSync(join(root, 'test/fixtures/rewards-upstream/corpus.json'), 'utf8')) as {
  cases: CorpusCase[];
};
const table = readFileSync(join(root, 'docs/rewards-vs-upstream.md'), 'utf8');
const rows = new Set([...table.matchAll(/^\|\s*`([a-z0-9-]+)`/gm)].map((m) => m[1]));

function vrftScores(c: CorpusCase): Record<string, number> {
  const weights = Object.fromEntries(Object.keys(c.expected).map((name) => [name, 1]));
  return scoreCompletion(c.completion, c.solution, c.context, weights).components;
}

describe("rewards against the published code's own values", () => {
  it('has at least 300 completions, from each family', () => {
    expect(corpus.cases.length).toBeGreaterThanOrEqual(300);
    for (const family of ['visual-rft', 'vlm-r1-od', 'vlm-r1-rec'])
      expect(corpus.cases.filter((c) => c.family === family).length).toBeGreaterThan(50);
  });

  it('every difference names a row of docs/rewards-vs-upstream.md', () => {
    for (const c of corpus.cases)
      for (const row of Object.values(c.differences ?? {})) expect(rows, `${c.id}: ${row}`).toContain(row);
  });

  it('agrees on every component the table does not excuse', () => {
    const mismatches: string[] = [];
    for (const c of corpus.cases) {
      const got = vrftScores(c);
      for (const [name, expected] of Object.entries(c.expected)) {
        if (c.differences?.[name]) continue;
        if (!(Math.abs(got[name]! - expected) <= 1e-9))
          mismatches.push(
            `${c.id} ${name}: vrft ${got[name]}, upstream ${expected} — ${JSON.stringify(c.completion)}`,
          );
      }
    }
    expect(mismatches).toEqual([]);
  });
});
