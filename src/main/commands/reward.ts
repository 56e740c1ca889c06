import type { LabelledBox } from '../rewards/openVocabulary';
import { frames } from '../rewards/frames';
import {
  checkRewardWeights,
  scoreCompletion,
  taskRewards,
  tasks,
  type RewardResult,
  type Solution,
  type Task,
} from '../rewards/registry';
import {
  failFile,
  oneOf,
  parseUserJson,
  readUserFile,
  requiredString,
  sizeFlag,
  UsageError,
  type Command,
  type Values,
} from './command';

function readBoxSolution(file: string, data: unknown): Solution {
  if (!Array.isArray(data))
    failFile(file, 'the ground truth of a box task is a JSON list of {"bbox": [x1, y1, x2, y2], "label": …}');
  const boxes: LabelledBox[] = data.map((item, i) => {
    const bbox = (item as { bbox?: unknown })?.bbox;
    if (
      !Array.isArray(bbox) ||
      bbox.length !== 4 ||
      !bbox.every((v) => typeof v === 'number' && Number.isFinite(v))
    ) {
      failFile(file, `[${i}].bbox must be [x1, y1, x2, y2], four finite numbers (pixels)`);
    }
    const [x1, y1, x2, y2] = bbox as [number, number, number, number];
    if (!(x2 > x1 && y2 > y1)) failFile(file, `[${i}].bbox needs x2 > x1 and y2 > y1`);
    const label = (item as { label?: unknown }).label;
    if (label !== undefined && typeof label !== 'string') failFile(file, `[${i}].label must be a string`);
    return label === undefined ? { x1, y1, x2, y2 } : { x1, y1, x2, y2, label };
  });
  return { boxes };
}

function readLabelSolution(file: string, data: unknown): Solution {
  const record = (data ?? {}) as { label?: unknown; synonyms?: unknown };
  if (typeof record.label !== 'string' || !record.label.trim())
    failFile(file, 'classification ground truth is {"label": …, "synonyms": […]}');
  if (
    record.synonyms !== undefined &&
    !(Array.isArray(record.synonyms) && record.synonyms.every((s) => typeof s === 'string'))
  ) {
    failFile(file, '"synonyms" must be a list of strings');
  }
  return { label: record.label, synonyms: record.synonyms as string[] | undefined };
}

export function formatReward(result: RewardResult): string {
  const lines = [`total ${result.total.toFixed(4)}`];
  for (const [name, value] of Object.entries(result.components))
    lines.push(`  ${name.padEnd(12)} ${value.toFixed(4)}`);
  const { detection } = result.parsed;
  lines.push(
    `format ${result.parsed.formatOk ? 'ok' : 'not <think>…</think><answer>…</answer>'}; answer ${result.parsed.answerTag}`,
  );
  if (detection) {
    lines.push(
      `read ${detection.boxes.length} box(es) in the ${detection.dialect} dialect (${detection.frame} frame)`,
    );
    for (const d of detection.dropped) lines.push(`  dropped ${d.item}: ${d.reason}`);
    for (const note of detection.notes) lines.push(`  note ${note}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `--rewards rec_iou=1,rec_format=1` (a bare name weighs 1) → weights; by default the task's. */
function rewardWeights(values: Values, task: Task): Record<string, number> {
  if (typeof values.rewards !== 'string') return taskRewards[task];
  const weights: Record<string, number> = {};
  for (const part of values.rewards.split(',')) {
    const [name = '', weight] = part.split('=').map((p) => p.trim());
    if (!name) continue;
    const value = weight === undefined ? 1 : Number(weight);
    if (weight !== undefined && (weight === '' || !Number.isFinite(value)))
      throw new UsageError(`--rewards: the weight of "${name}" must be a number, as in ${name}=1`);
    weights[name] = value;
  }
  if (Object.keys(weights).length === 0) throw new UsageError('--rewards needs at least one name=weight');
  checkRewardWeights(weights);
  return weights;
}

async function reward(values: Values): Promise<number> {
  const task = oneOf<Task>(values, 'task', tasks);
  const completionFile = requiredString(values, 'completion');
  const solutionFile = requiredString(values, 'solution');
  const frame = values.frame === undefined ? undefined : oneOf(values, 'frame', frames);
  const image = sizeFlag(values, 'image-size');
  const resized = sizeFlag(values, 'resized-size');
  const completion = readUserFile(completionFile);
  const data = parseUserJson(solutionFile, readUserFile(solutionFile));
  const solution =
    task === 'classification' ? readLabelSolution(solutionFile, data) : readBoxSolution(solutionFile, data);
  if (task !== 'classification' && !image) {
    throw new UsageError(
      `--image-size WxH is needed for ${task}: answers are converted to the image's pixels`,
    );
  }
  const categories =
    typeof values.categories === 'string' ? values.categories.split(',').map((c) => c.trim()) : undefined;
  const result = scoreCompletion(
    completion,
    solution,
    { image: image ?? { width: 1, height: 1 }, resized, frame, categories },
    rewardWeights(values, task),
  );
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatReward(result));
  return 0;
}

export const rewardCommand: Command = {
  summary: "score one completion with a task's verifiable rewards",
  usage:
    'vrft reward --task detection|classification|rec|ovd --completion FILE --solution FILE ' +
    '[--frame norm1000|resized|pixels] [--image-size WxH] [--resized-size WxH] [--categories a,b,c] ' +
    "[--rewards name=weight,… (e.g. rec_iou=1,rec_format=1; default: the task's)] [--json]",
  flags: {
    task: { type: 'string' },
    completion: { type: 'string' },
    solution: { type: 'string' },
    frame: { type: 'string' },
    'image-size': { type: 'string' },
    'resized-size': { type: 'string' },
    categories: { type: 'string' },
    rewards: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: reward,
};
