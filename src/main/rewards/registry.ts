/**
 * The reward registry: each reward is a named pure function of a completion, its ground truth
 * and its context; a run's config names the rewards it sums and their weights, e.g.
 * `{"rewards": {"iou": 1, "confidence": 1, "format": 1}}`. Every result carries its components
 * and what the parser read (and dropped), for the trace viewer.
 */
import { giou, iou, type Box, type Size } from '../../shared/boxes';
import { UserError } from '../../shared/errors';
import { nearestName } from '../../shared/names';
import { classificationAccuracy } from './classification';
import { normaliseLabel } from '../../shared/labels';
import { recFormatOk, splitCompletion, type CompletionParts } from './completion';
import { matchDetections, type DetectionMatch } from './detection';
import type { Frame } from './frames';
import { odLengthReward, type LabelledBox } from './openVocabulary';
import { parseBoxes, parseFirstBox, type ParsedBoxes } from './parse';

export const tasks = ['detection', 'classification', 'rec', 'ovd'] as const;
export type Task = (typeof tasks)[number];

/** The ground truth of one prompt: boxes in original-image pixels, or a class label. */
export interface Solution {
  boxes?: LabelledBox[];
  label?: string;
  synonyms?: string[];
}

export interface RewardContext {
  image: Size;
  resized?: Size;
  /** The frame the policy answers in; by default, the frame of the dialect it used. */
  frame?: Frame;
  /** Open-vocabulary detection: the categories the prompt asked for. */
  categories?: string[];
}

export interface ParsedAnswer extends CompletionParts {
  detection?: ParsedBoxes;
  label?: string;
}

export interface RewardResult {
  total: number;
  components: Record<string, number>;
  parsed: ParsedAnswer;
}

/** One completion, parsed lazily and once, whatever the number of rewards that read it. */
class Scoring {
  readonly parts: CompletionParts;
  private boxes?: ParsedBoxes;
  private match?: DetectionMatch;

  constructor(
    readonly completion: string,
    readonly solution: Solution,
    readonly context: RewardContext,
  ) {
    this.parts = splitCompletion(completion);
  }

  /**
   * Only a closed `<answer>…</answer>` is scored: no tag, or a cut-off answer with no close tag,
   * earns 0 from every accuracy reward, as in the published code (docs/rewards-vs-upstream.md).
   */
  get answered(): boolean {
    return this.parts.answerTag === 'closed';
  }

  parsedBoxes(): ParsedBoxes {
    this.boxes ??= parseBoxes(this.parts.answer, this.context);
    return this.boxes;
  }

  truthBoxes(reward: string): LabelledBox[] {
    if (!this.solution.boxes)
      throw new UserError('invalid_input', `The ${reward} reward needs ground-truth boxes.`);
    return this.solution.boxes;
  }

  /** Visual-RFT's matching; an answer with an item that is not a box scores 0, as upstream's does. */
  detectionMatch(reward: string): DetectionMatch {
    const truth = this.truthBoxes(reward);
    const parsed = this.parsedBoxes();
    if (!this.answered || parsed.malformed) return { matchedIou: [], iouReward: 0, confidenceReward: 0 };
    this.match ??= matchDetections(parsed.boxes, truth, parsed.dialect === 'empty');
    return this.match;
  }

  parsed(): ParsedAnswer {
    const out: ParsedAnswer = { ...this.parts };
    if (this.boxes) out.detection = this.boxes;
    return out;
  }
}

type RewardFunction = (s: Scoring) => number;

function recBox(s: Scoring, reward: string): { predicted?: Box; truth: Box } {
  const truth = s.truthBoxes(reward)[0];
  if (!truth) throw new UserError('invalid_input', `The ${reward} reward needs one ground-truth box.`);
  s.parsedBoxes(); // for the trace viewer
  return { predicted: s.answered ? parseFirstBox(s.parts.answer, s.context) : undefined, truth };
}

export const rewardFunctions: Record<string, { description: string; fn: RewardFunction }> = {
  format: {
    description: '1 if the completion is <think>…</think><answer>…</answer>, else 0',
    fn: (s) => (s.parts.formatOk ? 1 : 0),
  },
  rec_format: {
    description: "1 if <think>…</think><answer>…{…[d, d, d, d]…}…</answer> is found (VLM-R1's REC rule)",
    fn: (s) => (recFormatOk(s.completion) ? 1 : 0),
  },
  iou: {
    description: 'Σ matched IoU / max(N_gt, N_pred), capped at 1 (Visual-RFT)',
    fn: (s) => s.detectionMatch('iou').iouReward,
  },
  confidence: {
    description: 'mean over predictions of conf if matched else 1 − conf (Visual-RFT)',
    fn: (s) => s.detectionMatch('confidence').confidenceReward,
  },
  accuracy: {
    description: '1 iff the normalised answer is the label or a synonym',
    fn: (s) => {
      if (s.solution.label === undefined)
        throw new UserError('invalid_input', 'The accuracy reward needs a label.');
      if (!s.answered) return 0;
      return classificationAccuracy(s.parts.answer, {
        label: s.solution.label,
        synonyms: s.solution.synonyms,
      });
    },
  },
  rec_iou: {
    description: 'IoU of the first box in the answer with the ground-truth box (VLM-R1)',
    fn: (s) => {
      const { predicted, truth } = recBox(s, 'rec_iou');
      return predicted ? iou(predicted, truth) : 0;
    },
  },
  rec_giou: {
    description: 'GIoU of the first box with the ground-truth box, mapped from [−1, 1] to [0, 1]',
    fn: (s) => {
      const { predicted, truth } = recBox(s, 'rec_giou');
      return predicted ? (giou(predicted, truth) + 1) / 2 : 0;
    },
  },
  od_length: {
    description:
      'COCO mAP of the labelled boxes × min(1, N_gt / N_pred), every box in N_pred (VLM-R1 odLength)',
    fn: (s) => {
      const truth = s.truthBoxes('od_length');
      if (!s.answered) return 0;
      const asked = s.context.categories ?? [...new Set(truth.map((b) => b.label ?? ''))];
      const parsed = s.parsedBoxes();
      return odLengthReward(parsed.withDuplicates, parsed.written, truth, asked);
    },
  },
};

export const rewardNames = Object.keys(rewardFunctions);

/** Each task's rewards as the papers sum them. */
export const taskRewards: Record<Task, Record<string, number>> = {
  detection: { iou: 1, confidence: 1, format: 1 },
  classification: { accuracy: 1, format: 1 },
  rec: { rec_iou: 1, format: 1 },
  ovd: { od_length: 1, format: 1 },
};

/** Checks a config's reward weights: known names, finite weights. */
export function checkRewardWeights(weights: Record<string, number>): void {
  for (const [name, weight] of Object.entries(weights)) {
    if (!(name in rewardFunctions)) {
      const near = nearestName(name, rewardNames);
      throw new UserError(
        'invalid_input',
        `Unknown reward "${name}"${near ? ` (did you mean "${near}"?)` : ''}; known: ${rewardNames.join(', ')}.`,
      );
    }
    if (!Number.isFinite(weight))
      throw new UserError('invalid_input', `The weight of reward "${name}" must be a number.`);
  }
}

/** Scores one completion with the named rewards: total = Σ weight · reward; components unweighted. */
export function scoreCompletion(
  completion: string,
  solution: Solution,
  context: RewardContext,
  weights: Record<string, number>,
): RewardResult {
  checkRewardWeights(weights);
  const scoring = new Scoring(completion, solution, context);
  const components: Record<string, number> = {};
  let total = 0;
  for (const [name, weight] of Object.entries(weights)) {
    const value = rewardFunctions[name]!.fn(scoring);
    // No reward is ever NaN: a NaN here is a bug in a reward, not a user's doing.
    if (!Number.isFinite(value)) throw new Error(`reward ${name} returned ${value}`);
    components[name] = value;
    total += weight * value;
  }
  const parsed = scoring.parsed();
  if (solution.label !== undefined && 'accuracy' in weights) parsed.label = normaliseLabel(parsed.answer);
  return { total, components, parsed };
}

export const detectionReward = (c: string, s: Solution, x: RewardContext) =>
  scoreCompletion(c, s, x, taskRewards.detection);
export const classificationReward = (c: string, s: Solution, x: RewardContext) =>
  scoreCompletion(c, s, x, taskRewards.classification);
export const recReward = (c: string, s: Solution, x: RewardContext) =>
  scoreCompletion(c, s, x, taskRewards.rec);
export const odLengthTaskReward = (c: string, s: Solution, x: RewardContext) =>
  scoreCompletion(c, s, x, taskRewards.ovd);
