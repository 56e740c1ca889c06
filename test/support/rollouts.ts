/** GRPO rollouts made up for tests and benches: groups as the trainer stores them, seeded. */
import { seeded } from '../../src/shared/random';
import type { RolloutInput } from '../../src/main/store/rollouts';

const shapes = ['circle', 'square', 'triangle', 'heart', 'star', 'hexagon'];
const places = ['top left', 'top right', 'center', 'bottom left', 'bottom right'];

export interface FakeRun {
  steps: number;
  promptsPerStep: number;
  numGenerations: number;
  /** Images the prompts cycle through (ids as stored). */
  imageIds: (number | null)[];
  seed?: number;
  /** The first step (1 for a fresh run). */
  firstStep?: number;
}

/**
 * One step's rollouts: each prompt asks a shape of an image; each sample answers one or two boxes
 * (sometimes twice the same box, sometimes cut off, sometimes without the tags), and the rewards,
 * the advantages and the parsed answer are what the trainer would store for them.
 */
export function fakeStep(
  run: FakeRun,
  step: number,
  rng = seeded((run.seed ?? 1) * 100_003 + step),
): RolloutInput[] {
  const rows: RolloutInput[] = [];
  for (let p = 0; p < run.promptsPerStep; p++) {
    const q = (step * run.promptsPerStep + p) % (run.imageIds.length * shapes.length);
    const imageId = run.imageIds[q % run.imageIds.length] ?? null;
    const shape = shapes[Math.floor(q / run.imageIds.length) % shapes.length]!;
    const promptKey = `image ${imageId ?? q}: ${shape}`;
    const group: Omit<RolloutInput, 'advantage'>[] = [];
    const flat = rng.next() < 0.15;
    for (let i = 0; i < run.numGenerations; i++) {
      const kind = flat ? 0 : rng.int(0, 9);
      const x = rng.int(0, 40) * 20;
      const y = rng.int(0, 40) * 20;
      const twice = kind === 1;
      const cut = kind === 2;
      const noTags = kind === 3;
      const place = places[rng.int(0, places.length - 1)]!;
      const think = `I look for the ${shape}. A ${shape} at the ${place}.`;
      const box = { x1: x / 10, y1: y / 10, x2: x / 10 + 12, y2: y / 10 + 12, confidence: 0.9 };
      const answer = `[{'Position': [${x}, ${y}, ${x + 120}, ${y + 120}], 'Confidence': 0.9}${twice ? `, {'Position': [${x}, ${y}, ${x + 120}, ${y + 120}], 'Confidence': 0.9}` : ''}]`;
      const completion = noTags
        ? `${think} ${answer}`
        : cut
          ? `<think>${think}</think><answer>[{'Position': [${x}, ${y}`
          : `<think>${think}</think><answer>${answer}</answer>`;
      const format = noTags || cut ? 0 : 1;
      const iou = flat ? 0.5 : cut ? 0 : Math.round(rng.next() * 100) / 100;
      const confidence = cut ? 0 : flat ? 0.5 : Math.round(rng.next() * 100) / 100;
      group.push({
        step,
        promptKey,
        imageId,
        sampleIndex: i,
        prompt: `Detect all objects of the category '${shape}' in the image.`,
        completion,
        tokens: cut ? 64 : 30 + rng.int(0, 30),
        truncated: cut,
        rewards: { iou, confidence, format },
        reward: iou + confidence + format,
        meanLogprob: -rng.next() * 2,
        parsed: {
          think,
          answer: cut ? `[{'Position': [${x}, ${y}` : answer,
          answerTag: noTags ? 'missing' : cut ? 'truncated' : 'closed',
          formatOk: format === 1,
          detection: {
            dialect: 'visual-rft',
            frame: 'norm1000',
            boxes: cut ? [] : [box],
            dropped: cut
              ? [{ item: `{'Position': [${x}, ${y}`, reason: 'incomplete object (cut off)' }]
              : twice
                ? [{ item: `{'Position': [${x}, ${y}, …`, reason: 'exact duplicate' }]
                : [],
            notes: [],
          },
        },
      });
    }
    const mean = group.reduce((a, r) => a + r.reward, 0) / group.length;
    const sd = Math.sqrt(group.reduce((a, r) => a + (r.reward - mean) ** 2, 0) / (group.length - 1));
    for (const r of group) rows.push({ ...r, advantage: (r.reward - mean) / (sd + 1e-4) });
  }
  return rows;
}
