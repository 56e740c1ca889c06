import { describe, expect, it } from 'vitest';
import { scoreCompletion, taskRewards, type Solution, type Task } from '../../src/main/rewards/registry';
import { seeded } from '../support/random';

const rng = seeded(20261121);

const fragments = [
  '<think>',
  '</think>',
  '<answer>',
  '</answer>',
  '[',
  ']',
  '[[',
  ']]',
  '{',
  '}',
  ',',
  ':',
  "'",
  '"',
  "'Position'",
  '"Position"',
  "'Confidence'",
  'NaN',
  'Infinity',
  '-Infinity',
  'None',
  'null',
  '1e999',
  '-5',
  '0.5',
  '1000',
  '1200',
  '-0',
  '3.14',
  'No Objects',
  '```json',
  '```',
  '"bbox_2d"',
  '"label"',
  '"cat"',
  '<|box_start|>',
  '<|box_end|>',
  '<|object_ref_start|>',
  '<|object_ref_end|>',
  '(',
  ')',
  ' ',
  '\n',
  'hexagon',
  ' or ',
  '_',
  '.',
  '\u0000',
  '😀',
];

function randomCompletion(): string {
  return Array.from({ length: rng.int(0, 60) }, () => rng.pick(fragments)).join('');
}

function randomNumberText(): string {
  return rng.pick([
    'NaN',
    'Infinity',
    '-3',
    '1e308',
    '0.7',
    String(rng.int(-200, 1300)),
    String(rng.next()),
    "'x'",
    '',
  ]);
}

function randomBoxAnswer(): string {
  const items = Array.from({ length: rng.int(0, 25) }, () => {
    const c = Array.from({ length: rng.pick([3, 4, 4, 4, 5]) }, () => String(rng.int(-300, 1400))).join(', ');
    return rng.pick([
      `{'Position': [${c}], 'Confidence': ${randomNumberText()}}`,
      `{"bbox_2d": [${c}], "label": "${rng.pick(['cat', 'dog', 'bird', ''])}"}`,
      `<|object_ref_start|>cat<|object_ref_end|><|box_start|>(${rng.int(-9, 1100)},${rng.int(-9, 1100)}),(${rng.int(-9, 1100)},${rng.int(-9, 1100)})<|box_end|>`,
    ]);
  });
  const text = `[${items.join(', ')}]`;
  const cut = rng.next() < 0.3 ? text.slice(0, rng.int(0, text.length)) : text;
  return `<think>${randomCompletion()}</think><answer>${cut}${rng.next() < 0.7 ? '</answer>' : ''}`;
}

function randomSolution(): Solution {
  const boxes = Array.from({ length: rng.int(0, 6) }, () => {
    const x1 = rng.int(0, 600);
    const y1 = rng.int(0, 400);
    return { x1, y1, x2: x1 + rng.int(1, 300), y2: y1 + rng.int(1, 200), label: rng.pick(['cat', 'dog']) };
  });
  return { boxes, label: rng.pick(['hexagon', 'pentagon']), synonyms: ['six sided'] };
}

const range: Record<Task, number> = { detection: 3, classification: 2, rec: 2, ovd: 2 };

describe('rewards never throw, never NaN, stay in range', () => {
  const context = { image: { width: 640, height: 480 }, categories: ['cat', 'dog', 'bird'] };
  for (const task of Object.keys(taskRewards) as Task[]) {
    it(`${task}: 2,000 random completions and box lists`, () => {
      for (let i = 0; i < 2000; i++) {
        const completion = i % 2 ? randomCompletion() : randomBoxAnswer();
        let solution = randomSolution();
        if (task === 'rec' && !solution.boxes?.length)
          solution = { ...solution, boxes: [{ x1: 1, y1: 1, x2: 9, y2: 9 }] };
        const result = scoreCompletion(completion, solution, context, taskRewards[task]);
        expect(Number.isFinite(result.total), completion).toBe(true);
        expect(result.total).toBeGreaterThanOrEqual(0);
        expect(result.total).toBeLessThanOrEqual(range[task]);
        for (const value of Object.values(result.components)) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
        for (const box of result.parsed.detection?.boxes ?? []) {
          expect(box.x2).toBeGreaterThan(box.x1);
          expect(box.y2).toBeGreaterThan(box.y1);
          expect(box.x1).toBeGreaterThanOrEqual(0);
          expect(box.x2).toBeLessThanOrEqual(640);
          expect(box.confidence).toBeGreaterThanOrEqual(0);
          expect(box.confidence).toBeLessThanOrEqual(1);
        }
      }
    });
  }
});
