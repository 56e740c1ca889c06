// Time per reward call on typical completions (budget: < 50 µs with ≤ 20 boxes).
// Usage: node bench/ts.js bench/rewards.ts
import { performance } from 'node:perf_hooks';
import { scoreCompletion, taskRewards, type Solution } from '../src/main/rewards/registry';

function detectionCase(boxes: number) {
  const truth: Solution = { boxes: [] };
  const items: string[] = [];
  for (let i = 0; i < boxes; i++) {
    const x = (i * 47) % 900;
    const y = (i * 83) % 900;
    truth.boxes!.push({ x1: x * 0.64, y1: y * 0.48, x2: (x + 80) * 0.64, y2: (y + 60) * 0.48 });
    items.push(
      `{'Position': [${x + (i % 5)}, ${y}, ${x + 78}, ${y + 61}], 'Confidence': 0.${(i * 7) % 10}${i % 3}}`,
    );
  }
  const completion =
    '<think>The image shows several shapes; the red circles are at the top left and along the middle.</think>' +
    `<answer>[${items.join(', ')}]</answer>`;
  return { completion, truth };
}

function time(label: string, fn: () => void, budgetMicros: number) {
  for (let i = 0; i < 2000; i++) fn();
  const samples: number[] = [];
  for (let round = 0; round < 7; round++) {
    const n = 5000;
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push(((performance.now() - start) * 1000) / n);
  }
  samples.sort((a, b) => a - b);
  const median = samples[3]!;
  console.log(
    `${label.padEnd(44)} median ${median.toFixed(1).padStart(6)} µs/call  (budget ${budgetMicros} µs: ${median < budgetMicros ? 'within' : 'OVER'})`,
  );
}

const context = { image: { width: 640, height: 480 } };
for (const boxes of [1, 5, 20]) {
  const { completion, truth } = detectionCase(boxes);
  time(
    `detection, ${boxes} predicted / ${boxes} GT boxes`,
    () => scoreCompletion(completion, truth, context, taskRewards.detection),
    50,
  );
}
const cls = '<think>It has six equal sides.</think><answer>hexagon</answer>';
time(
  'classification',
  () =>
    scoreCompletion(
      cls,
      { label: 'hexagon', synonyms: ['six-sided polygon'] },
      context,
      taskRewards.classification,
    ),
  50,
);
const rec =
  '<think>The largest red shape.</think><answer>{"bbox_2d": [100, 120, 300, 330], "label": "circle"}</answer>';
time(
  'referring expression (rec_iou)',
  () =>
    scoreCompletion(
      rec,
      { boxes: [{ x1: 100, y1: 120, x2: 300, y2: 320 }] },
      { ...context, frame: 'pixels' },
      taskRewards.rec,
    ),
  50,
);
const ovdItems = Array.from(
  { length: 10 },
  (_, i) =>
    `{"bbox_2d": [${i * 60}, ${i * 40}, ${i * 60 + 50}, ${i * 40 + 30}], "label": "${['cat', 'dog'][i % 2]}"}`,
);
const ovd = `<think>Cats and dogs.</think><answer>\`\`\`json\n[${ovdItems.join(', ')}]\n\`\`\`</answer>`;
const ovdTruth: Solution = {
  boxes: Array.from({ length: 8 }, (_, i) => ({
    x1: i * 60,
    y1: i * 40,
    x2: i * 60 + 52,
    y2: i * 40 + 31,
    label: ['cat', 'dog'][i % 2],
  })),
};
time(
  'open vocabulary (odLength, 10 boxes, COCO mAP)',
  () =>
    scoreCompletion(
      ovd,
      ovdTruth,
      { ...context, frame: 'pixels', categories: ['cat', 'dog', 'bird'] },
      taskRewards.ovd,
    ),
  50,
);
