import { describe, expect, it } from 'vitest';
import { alignLines, formatDuration, smooth } from '../../src/renderer/src/lib/curves';
import { orderMetricKeys, runDuration, runLabel } from '../../src/renderer/src/lib/runs';

describe('chart data', () => {
  it('aligns lines logged at different steps on the union of their x, null where a line has no point', () => {
    expect(
      alignLines([
        { x: [1, 2, 4], y: [10, 20, 40] },
        { x: [2, 3], y: [0.2, 0.3] },
      ]),
    ).toEqual([
      [1, 2, 3, 4],
      [10, 20, null, 40],
      [null, 0.2, 0.3, null],
    ]);
  });

  it('shares the x of lines logged at the same steps', () => {
    const x = [1, 2, 3];
    const [xs, a, b] = alignLines([
      { x, y: [1, 2, 3] },
      { x: [1, 2, 3], y: [4, 5, 6] },
    ]);
    expect(xs).toBe(x);
    expect([a, b]).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('smooths as TensorBoard does (debiased EMA), keeping gaps and skipping NaN', () => {
    expect(smooth([1, 1, 1], 0.9)).toEqual([1, 1, 1]);
    const s = smooth([0, 10, null, NaN, 10], 0.5);
    expect(s[0]).toBeCloseTo(0);
    expect(s[1]).toBeCloseTo((0.5 * 10) / 0.75);
    expect(s[2]).toBeNull();
    expect(s[3]).toBeNull();
    expect(s[4]).toBeCloseTo((0.5 * (0.5 * 10) + 0.5 * 10) / 0.875);
    expect(smooth([3, null], 0)).toEqual([3, null]);
  });

  it('says durations and names runs in the user’s words', () => {
    expect([formatDuration(42), formatDuration(75), formatDuration(3725)]).toEqual(['42s', '1m15s', '1h02m']);
    expect(runLabel({ id: 7, name: '', kind: 'sft' })).toBe('SFT 7');
    expect(runLabel({ id: 9, name: '', kind: 'eval' })).toBe('Eval 9');
    expect(runLabel({ id: 9, name: 'mine', kind: 'grpo' })).toBe('mine');
    expect(runDuration({ startedAt: 1000, finishedAt: 76_000 })).toBe('1m15s');
    expect(runDuration({ startedAt: null, finishedAt: null })).toBe('');
  });

  it('charts reward, its components and the training figures first, never timings or warning flags', () => {
    expect(
      orderMetricKeys([
        'time/update',
        'zeta',
        'rewards/iou/mean',
        'loss',
        'warnings/zero-std',
        'reward',
        'rewards/iou/std',
      ]),
    ).toEqual(['reward', 'loss', 'rewards/iou/mean', 'rewards/iou/std', 'zeta']);
  });
});
