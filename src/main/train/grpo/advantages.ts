/**
 * GRPO advantages: each reward minus its group's mean, divided by (std + 1e-4) where std uses
 * Bessel's correction — over the group (`group`, the default), over the whole batch (`batch`;
 * the mean stays per group, as TRL computes it), or not divided (`none`).
 */
export type ScaleRewards = 'group' | 'batch' | 'none';

function std(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN; // torch.std of one value is NaN
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
}

export interface Advantages {
  advantages: number[];
  /** Per group: did its rewards have zero spread (the group teaches nothing)? */
  zeroStdGroups: boolean[];
}

/** `rewards` grouped: G consecutive completions per prompt. */
export function groupAdvantages(
  rewards: readonly number[],
  groupSize: number,
  scale: ScaleRewards,
): Advantages {
  if (rewards.length % groupSize !== 0)
    throw new Error(`${rewards.length} rewards do not make groups of ${groupSize}`);
  const groups = rewards.length / groupSize;
  const batchStd = std(rewards);
  const advantages: number[] = [];
  const zeroStdGroups: boolean[] = [];
  for (let g = 0; g < groups; g++) {
    const group = rewards.slice(g * groupSize, (g + 1) * groupSize);
    const mean = group.reduce((a, b) => a + b, 0) / groupSize;
    const groupStd = std(group);
    const divisor = scale === 'batch' ? batchStd : groupStd;
    zeroStdGroups.push(!(groupStd > 1e-8));
    for (const r of group) {
      const centred = r - mean;
      // A single-sample group (std NaN) has nothing to compare against: advantage 0.
      advantages.push(scale === 'none' ? centred : Number.isFinite(divisor) ? centred / (divisor + 1e-4) : 0);
    }
  }
  return { advantages, zeroStdGroups };
}
