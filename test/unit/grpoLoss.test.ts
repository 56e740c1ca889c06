import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { groupAdvantages, type ScaleRewards } from '../../src/main/train/grpo/advantages';
import { grpoLoss, tokenStatistics, type LossType } from '../../src/main/train/grpo/loss';

interface Case {
  lossType: LossType;
  scaleRewards: ScaleRewards;
  epsilon: number;
  epsilonHigh: number;
  beta: number;
  mu: number;
  groupSize: number;
  maxCompletionLength: number;
  logProbs: number[][];
  oldLogProbs: number[][] | null;
  refLogProbs: number[][];
  mask: number[][];
  rewards: number[];
  advantages: number[];
  loss: number;
  grad: number[][];
}

const cases = JSON.parse(readFileSync('test/fixtures/grpo/cases.json', 'utf8')) as Case[];
const name = (c: Case) =>
  `${c.lossType} scale=${c.scaleRewards} ε=${c.epsilon}/${c.epsilonHigh} β=${c.beta} μ=${c.mu}`;

describe('GRPO loss equals the PyTorch/TRL reference (tools/reference/grpo_loss.py)', () => {
  it('covers every loss type, scale mode, ε_high, β and μ > 1', () => {
    expect(cases).toHaveLength(96);
    expect(new Set(cases.map((c) => c.lossType))).toEqual(new Set(['grpo', 'bnpo', 'dr_grpo', 'dapo']));
  });

  it.each(cases.map((c) => [name(c), c] as const))('%s', (_n, c) => {
    const { advantages } = groupAdvantages(c.rewards, c.groupSize, c.scaleRewards);
    advantages.forEach((a, i) => expect(Math.abs(a - c.advantages[i]!), `advantage ${i}`).toBeLessThan(1e-6));
    const [loss, grad] = tf.tidy(() => {
      const mask = tf.tensor2d(c.mask);
      const f = (lp: tf.Tensor) =>
        grpoLoss(
          {
            logProbs: lp as tf.Tensor2D,
            oldLogProbs: c.oldLogProbs ? tf.tensor2d(c.oldLogProbs) : undefined,
            refLogProbs: tf.tensor2d(c.refLogProbs),
            mask,
            advantages: tf.tensor1d(c.advantages),
          },
          {
            lossType: c.lossType,
            beta: c.beta,
            epsilon: c.epsilon,
            epsilonHigh: c.epsilonHigh,
            maxCompletionLength: c.maxCompletionLength,
          },
        );
      const { value, grad: g } = tf.valueAndGrad(f)(tf.tensor2d(c.logProbs));
      return [value.dataSync()[0]!, g.arraySync() as number[][]];
    });
    expect(Math.abs(loss - c.loss), `loss ${loss} vs ${c.loss}`).toBeLessThan(1e-6);
    grad.forEach((row, i) =>
      row.forEach((g, t) => expect(Math.abs(g - c.grad[i]![t]!), `grad[${i}][${t}]`).toBeLessThan(1e-6)),
    );
  });
});

describe('advantages', () => {
  it('are zero for a group whose rewards are all equal, and say so', () => {
    const { advantages, zeroStdGroups } = groupAdvantages([1, 1, 1, 1, 0, 1, 2, 3], 4, 'group');
    expect(advantages.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(zeroStdGroups).toEqual([true, false]);
  });
});

describe('token statistics', () => {
  it('count clipped tokens by side and average the k3 KL', () => {
    const stats = tokenStatistics(
      [
        { logProbs: [Math.log(0.5), 0], oldLogProbs: [0, 0], refLogProbs: [Math.log(0.5), 0], advantage: -1 },
        { logProbs: [Math.log(2)], oldLogProbs: [0], advantage: 1 },
      ],
      { epsilon: 0.2, epsilonHigh: 0.28 },
    );
    expect(stats.clipLow).toBeCloseTo(1 / 3, 12);
    expect(stats.clipHigh).toBeCloseTo(1 / 3, 12);
    expect(stats.clipRegion).toBeCloseTo(2 / 3, 12);
  });
});
