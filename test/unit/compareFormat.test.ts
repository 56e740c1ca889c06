// The comparison table: one Δ column per earlier run against the last, each with its interval.
import { describe, expect, it } from 'vitest';
import { formatComparison, type Comparison } from '../../src/main/commands/compare';

const cell = (ap50: number, ap: number) => ({ primary: ap50, secondary: ap });
const interval = (from: string, low: number, high: number) => ({
  from,
  to: 'RFT',
  level: 0.95,
  resamples: 1000,
  images: 140,
  mean: { low, high },
  categories: { star: { low: low - 0.01, high: high + 0.01 } },
});

describe('formatComparison', () => {
  it('prints RFT − base and RFT − SFT, each with its interval and whether it excludes 0', () => {
    const comparison: Comparison = {
      metric: 'detection',
      columns: [
        { label: 'base', runId: 1 },
        { label: 'SFT', runId: 2 },
        { label: 'RFT', runId: 4 },
      ],
      categories: { star: { base: cell(0.1, 0.05), SFT: cell(0.12, 0.06), RFT: cell(0.2, 0.1) } },
      mean: { base: cell(0.056, 0.03), SFT: cell(0.07, 0.04), RFT: cell(0.15, 0.08) },
      intervals: [interval('base', 0.05, 0.12), interval('SFT', -0.01, 0.15)],
    };
    expect(formatComparison(comparison).split('\n')).toEqual([
      'AP50 (AP@[.5:.95]) in %, per category; base = run 1, SFT = run 2, RFT = run 4',
      'category                  base           SFT           RFT  Δ RFT−base                  Δ RFT−SFT',
      'star                10.0 (5.0)    12.0 (6.0)   20.0 (10.0)  +10.0 (+5.0) [+4.0, +13.0]  +8.0 (+4.0) [-2.0, +16.0]',
      'all                  5.6 (3.0)     7.0 (4.0)    15.0 (8.0)  +9.4 (+5.0) [+5.0, +12.0]   +8.0 (+4.0) [-1.0, +15.0]',
      'Δ RFT−base AP50: +5.0 to +12.0 (95 % paired bootstrap interval over the 140 evaluation images, 1000 draws), excludes 0',
      'Δ RFT−SFT AP50: -1.0 to +15.0 (95 % paired bootstrap interval over the 140 evaluation images, 1000 draws), includes 0',
      'an interval that excludes 0 is not the luck of which images were evaluated',
      '',
    ]);
  });

  it('says why an interval could not be measured', () => {
    const text = formatComparison({
      metric: 'classification',
      columns: [
        { label: 'sft 3', runId: 3 },
        { label: 'grpo 4', runId: 4 },
      ],
      categories: {},
      mean: { 'sft 3': { primary: 0.5 }, 'grpo 4': { primary: 0.75 } },
      intervals: [{ from: 'sft 3', to: 'grpo 4', unavailable: 'different splits' }],
    });
    expect(text).toMatch(/^all images +50\.0 +75\.0 {2}\+25\.0$/m);
    expect(text).toMatch(/^no interval for Δ grpo 4−sft 3: different splits$/m);
  });
});
