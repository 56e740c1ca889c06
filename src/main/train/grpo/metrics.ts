/**
 * What a GRPO step logs, with TRL's metric names so its users feel at home, plus ours for reward
 * hacking; and the warnings a user should see while it trains.
 */
import type { Sample } from '../../models/policy';
import type { RewardResult } from '../../rewards/registry';

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const std = (xs: readonly number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};

export interface RolloutFacts {
  samples: Sample[];
  results: RewardResult[];
  zeroStdGroups: boolean[];
  /** Ground-truth boxes per rollout (detection tasks), for the box-count metrics. */
  truthCounts: (number | undefined)[];
  /** The category each rollout's question asks for (detection), to see if the thinking names it. */
  asked: (string | undefined)[];
}

/** Whether `text` has `word` as a whole word, in any case ("Hexagon" yes, "hexagons" no). */
export function namesWord(text: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\p{L}\\p{N}])${escaped}($|[^\\p{L}\\p{N}])`, 'iu').test(text);
}

export function rolloutMetrics(f: RolloutFacts, maxCompletionLength: number): Record<string, number> {
  const rewards = f.results.map((r) => r.total);
  const lengths = f.samples.map((s) => s.tokenIds.length);
  const out: Record<string, number> = {
    reward: mean(rewards),
    reward_std: std(rewards),
    frac_reward_zero_std: mean(f.zeroStdGroups.map(Number)),
    'completions/mean_length': mean(lengths),
    'completions/max_length': Math.max(0, ...lengths),
    'completions/clipped_ratio': mean(
      f.samples.map((s) => Number(s.truncated || s.tokenIds.length >= maxCompletionLength)),
    ),
    entropy: mean(f.samples.flatMap((s) => s.entropies)),
    'format/ok_rate': mean(f.results.map((r) => Number(r.parsed.formatOk))),
  };
  for (const name of Object.keys(f.results[0]?.components ?? {})) {
    const values = f.results.map((r) => r.components[name] ?? 0);
    out[`rewards/${name}/mean`] = mean(values);
    out[`rewards/${name}/std`] = std(values);
  }
  // Reward hacking: more boxes than objects, the same box twice.
  let predicted = 0;
  let truth = 0;
  let duplicates = 0;
  let read = 0;
  f.results.forEach((r, i) => {
    const d = r.parsed.detection;
    const n = f.truthCounts[i];
    if (!d || n === undefined) return;
    predicted += d.boxes.length;
    truth += n;
    const dup = d.dropped.filter((x) => x.reason === 'exact duplicate').length;
    duplicates += dup;
    read += d.boxes.length + dup;
  });
  if (truth > 0 || predicted > 0) {
    out['boxes/pred_per_gt'] = predicted / Math.max(truth, 1);
    out['boxes/duplicate_rate'] = read ? duplicates / read : 0;
  }
  // A policy that thinks "Find every pentagon" when asked for a hexagon is not reading the question
  // (a word it never learned, say): its boxes follow the word it wrote instead.
  const thought = f.results.flatMap((r, i) => {
    const word = f.asked[i];
    return word && r.parsed.think?.trim() ? [namesWord(r.parsed.think, word)] : [];
  });
  if (thought.length) out['thinking/names_asked'] = mean(thought.map(Number));
  return out;
}

export interface WarningRules {
  lengthGrowth: number;
  duplicateRate: number;
  predPerGt: number;
  zeroStdFraction: number;
  zeroStdSteps: number;
  /** Below this share of thinking that names the asked category over the first 20 steps, warn. */
  namesAsked: number;
}

export const defaultWarningRules: WarningRules = {
  lengthGrowth: 2,
  duplicateRate: 0.2,
  predPerGt: 2,
  zeroStdFraction: 0.9,
  zeroStdSteps: 10,
  namesAsked: 0.1,
};

/** A warning of one kind (length, duplicates, boxes, zero-std, unread), said once per run. */
export interface TrainingWarning {
  kind: string;
  message: string;
}

/** Watches the metrics step by step and says, once per kind, when training looks unhealthy. */
export class TrainingWatch {
  private readonly firstLengths: number[] = [];
  private readonly firstNamesAsked: number[] = [];
  private zeroStdRun = 0;
  private readonly said = new Set<string>();

  constructor(private readonly rules: WarningRules = defaultWarningRules) {}

  observe(step: number, m: Record<string, number>): TrainingWarning[] {
    const warnings: TrainingWarning[] = [];
    const say = (kind: string, text: string) => {
      if (!this.said.has(kind)) {
        this.said.add(kind);
        warnings.push({ kind, message: `step ${step}: ${text}` });
      }
    };
    const length = m['completions/mean_length'] ?? 0;
    if (this.firstLengths.length < 20) this.firstLengths.push(length);
    else if (length > this.rules.lengthGrowth * mean(this.firstLengths)) {
      say(
        'length',
        `completions grew to ${length.toFixed(0)} tokens, over ${this.rules.lengthGrowth}× their first-20-step mean (${mean(this.firstLengths).toFixed(0)}): check for padding or repetition`,
      );
    }
    const named = m['thinking/names_asked'];
    if (named !== undefined && this.firstNamesAsked.length < 20) {
      this.firstNamesAsked.push(named);
      const share = mean(this.firstNamesAsked);
      if (this.firstNamesAsked.length === 20 && share < this.rules.namesAsked) {
        say(
          'unread',
          `the thinking named the asked category in ${(100 * share).toFixed(0)}% of the first 20 steps' rollouts: the policy may not know the word, and its boxes follow the one it wrote instead (see the traces)`,
        );
      }
    }
    if ((m['boxes/duplicate_rate'] ?? 0) > this.rules.duplicateRate) {
      say(
        'duplicates',
        `${(100 * m['boxes/duplicate_rate']!).toFixed(0)}% of boxes are exact duplicates: the policy may be farming the IoU reward`,
      );
    }
    if ((m['boxes/pred_per_gt'] ?? 0) > this.rules.predPerGt) {
      say(
        'boxes',
        `${m['boxes/pred_per_gt']!.toFixed(1)} predicted boxes per ground-truth box: the policy may be spraying boxes`,
      );
    }
    this.zeroStdRun = (m.frac_reward_zero_std ?? 0) > this.rules.zeroStdFraction ? this.zeroStdRun + 1 : 0;
    if (this.zeroStdRun >= this.rules.zeroStdSteps) {
      say(
        'zero-std',
        `over ${100 * this.rules.zeroStdFraction}% of groups had identical rewards for ${this.zeroStdRun} steps: the step learns nothing — raise the temperature or numGenerations`,
      );
    }
    return warnings;
  }
}
