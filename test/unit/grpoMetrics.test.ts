import { describe, expect, it } from 'vitest';
import type { Sample } from '../../src/main/models/policy';
import { detectionReward } from '../../src/main/rewards/registry';
import {
  defaultWarningRules,
  namesWord,
  rolloutMetrics,
  TrainingWatch,
} from '../../src/main/train/grpo/metrics';

const context = { image: { width: 100, height: 100 }, frame: 'norm1000' as const };
const truth = { boxes: [{ x1: 10, y1: 10, x2: 50, y2: 50, label: 'hexagon' }] };
const box = (b: number[]) => `{'Position': [${b.join(', ')}], 'Confidence': 1}`;
const completion = (think: string, boxes: number[][]) =>
  `<think>${think}</think><answer>[${boxes.map(box).join(', ')}]</answer>`;
const sample = (text: string): Sample => ({
  promptIndex: 0,
  tokenIds: [1, 2, 3],
  text,
  logProbs: [0, 0, 0],
  entropies: [0.5, 0.5, 0.5],
  truncated: false,
});

function metricsOf(texts: string[], asked: (string | undefined)[]) {
  return rolloutMetrics(
    {
      samples: texts.map(sample),
      results: texts.map((t) => detectionReward(t, truth, context)),
      zeroStdGroups: [false],
      truthCounts: texts.map(() => 1),
      asked,
    },
    160,
  );
}

describe('GRPO rollout metrics', () => {
  it('counts predicted boxes per ground-truth box and exact duplicates', () => {
    const a = [100, 100, 500, 500];
    const m = metricsOf(
      [completion('x', [a, a, [600, 600, 900, 900]]), completion('x', [a])],
      [undefined, undefined],
    );
    // The duplicate is dropped by the parser: 2 + 1 boxes kept for 2 ground-truth boxes.
    expect(m['boxes/pred_per_gt']).toBeCloseTo(1.5, 12);
    expect(m['boxes/duplicate_rate']).toBeCloseTo(1 / 4, 12);
    expect(m['thinking/names_asked']).toBeUndefined();
  });

  it('measures how often the thinking names the asked category, as a whole word', () => {
    const m = metricsOf(
      [
        completion('Find every Hexagon: one at the top left.', [[100, 100, 500, 500]]),
        completion('Find every pentagon: hexagons are not asked.', [[100, 100, 500, 500]]),
        completion('Find every pentagon: one at the top left.', [[100, 100, 500, 500]]),
        // An empty thinking says nothing either way and is not counted.
        completion(' ', [[100, 100, 500, 500]]),
      ],
      ['hexagon', 'hexagon', 'hexagon', 'hexagon'],
    );
    expect(m['thinking/names_asked']).toBeCloseTo(1 / 3, 12);
  });

  it('matches names with punctuation and more than one word literally', () => {
    expect(namesWord('Find every traffic light.', 'traffic light')).toBe(true);
    expect(namesWord('Find every t-shirt (small)', 't-shirt')).toBe(true);
    expect(namesWord('a+b', 'a.b')).toBe(false);
    expect(namesWord('rings', 'ring')).toBe(false);
  });
});

describe('GRPO training warnings', () => {
  const healthy = {
    'completions/mean_length': 40,
    'boxes/duplicate_rate': 0,
    'boxes/pred_per_gt': 1,
    frac_reward_zero_std: 0.3,
    'thinking/names_asked': 0.9,
  };

  function watchOver(steps: number, at: (step: number) => Record<string, number>) {
    const watch = new TrainingWatch(defaultWarningRules);
    const said: string[] = [];
    for (let step = 1; step <= steps; step++) {
      for (const w of watch.observe(step, { ...healthy, ...at(step) })) said.push(`${w.kind}: ${w.message}`);
    }
    return said;
  }

  it('says nothing while training is healthy', () => {
    expect(watchOver(60, () => ({}))).toEqual([]);
  });

  it('warns once when completions grow past twice their first-20-step mean', () => {
    const said = watchOver(40, (s) => ({ 'completions/mean_length': s <= 30 ? 40 : 81 }));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      /^length: step 31: completions grew to 81 tokens, over 2× their first-20-step mean \(40\)/,
    );
    expect(watchOver(40, (s) => ({ 'completions/mean_length': s <= 30 ? 40 : 80 }))).toEqual([]);
  });

  it('warns once on duplicate boxes and on sprayed boxes', () => {
    const said = watchOver(10, (s) => ({
      'boxes/duplicate_rate': s >= 3 ? 0.25 : 0.2,
      'boxes/pred_per_gt': s >= 5 ? 2.4 : 2,
    }));
    expect(said).toEqual([
      'duplicates: step 3: 25% of boxes are exact duplicates: the policy may be farming the IoU reward',
      'boxes: step 5: 2.4 predicted boxes per ground-truth box: the policy may be spraying boxes',
    ]);
  });

  it('warns when the reward spread is zero for ten steps in a row, not nine', () => {
    const nine = watchOver(30, (s) => ({ frac_reward_zero_std: s % 10 === 0 ? 0.5 : 0.95 }));
    expect(nine).toEqual([]);
    const ten = watchOver(30, (s) => ({ frac_reward_zero_std: s >= 5 ? 0.95 : 0.5 }));
    expect(ten).toHaveLength(1);
    expect(ten[0]).toMatch(/^zero-std: step 14: over 90% of groups had identical rewards for 10 steps/);
  });

  it('warns after 20 steps when the thinking rarely names the asked category', () => {
    const said = watchOver(40, () => ({ 'thinking/names_asked': 0.05 }));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      /^unread: step 20: the thinking named the asked category in 5% of the first 20 steps/,
    );
    // The mean of the first 20 steps decides: a late start does not make it warn.
    expect(watchOver(40, (s) => ({ 'thinking/names_asked': s <= 10 ? 0 : 0.3 }))).toEqual([]);
    // Tasks without an asked category (classification) never report the metric: no warning.
    const watch = new TrainingWatch(defaultWarningRules);
    const { 'thinking/names_asked': _, ...noAsked } = healthy;
    for (let step = 1; step <= 40; step++) expect(watch.observe(step, noAsked)).toEqual([]);
  });
});
