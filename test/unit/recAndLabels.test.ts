/**
 * REC on a workspace dataset (items, SFT examples, GRPO prompts and their rewards, evaluation),
 * classification by image-level labels and synonyms, and crowd boxes kept out of detection.
 */
import { describe, expect, it } from 'vitest';
import { detectionFigures } from '../../src/main/eval/bootstrap';
import type { Policy, PromptInput, Sample } from '../../src/main/models/policy';
import { tinyVlmPrompts } from '../../src/main/models/tiny-vlm/prompts';
import { scoreCompletion, taskRewards } from '../../src/main/rewards/registry';
import {
  classificationExamples,
  classificationPrompts,
  detectionQuestions,
  imageLabel,
  synonymsOf,
  type DatasetImage,
  type LoadedDataset,
} from '../../src/main/train/datasetExamples';
import { evaluateClassification } from '../../src/main/train/evaluateClassification';
import { evaluateDetection } from '../../src/main/train/evaluateDetection';
import { evaluateRec } from '../../src/main/train/evaluateRec';
import {
  atLeastOneRecItem,
  recExamples,
  recItems,
  recKey,
  recPrompts,
} from '../../src/main/train/recExamples';
import { grpoPromptsOf, sftExamplesOf } from '../../src/main/train/taskData';

const blank = (width: number, height: number) => ({ width, height, rgb: new Uint8Array(width * height * 3) });
const tinyVlmAsking = {
  prompts: tinyVlmPrompts,
  frame: 'norm1000' as const,
  inputSize: (s: { width: number; height: number }) => ({ width: s.width, height: s.height }),
};

const left = { x1: 0, y1: 0, x2: 50, y2: 50 };
const right = { x1: 50, y1: 50, x2: 100, y2: 100 };
const images: DatasetImage[] = [
  {
    imageId: 7,
    image: blank(100, 100),
    boxes: [
      { id: 31, category: 'circle', box: left, expression: 'the circle on the left' },
      { id: 32, category: 'square', box: right, expression: '' },
      { id: 33, category: 'square', box: right, expression: ' the lower right square ' },
    ],
  },
  { imageId: 8, image: blank(100, 100), boxes: [{ id: 34, category: 'circle', box: left }] },
];

describe('REC items of a dataset', () => {
  it('are the boxes with an expression, each keyed by its image, expression and annotation', () => {
    const items = recItems(images);
    expect(items.map((i) => [i.img.imageId, i.expression, i.category])).toEqual([
      [7, 'the circle on the left', 'circle'],
      [7, 'the lower right square', 'square'],
    ]);
    expect(items.map(recKey)).toEqual([
      'image 7: the circle on the left#31',
      'image 7: the lower right square#33',
    ]);
  });

  it('refuse a dataset without expressions, saying how to add them', () => {
    expect(() => atLeastOneRecItem(recItems([images[1]!]), 'shapes')).toThrow(
      /No box of "shapes" has a referring expression: type one .* in the annotator.*VLM-R1 REC or LISA/,
    );
  });

  it("make SFT examples in tiny-vlm's prompt and answer, the thinking templated", () => {
    const [example] = recExamples(recItems(images), 'Locate {expression}: {objects}', tinyVlmAsking);
    expect(example).toMatchObject({
      prompt: 'Locate the circle on the left.',
      think: 'Locate the circle on the left: A circle at the top left.',
      answer: "[{'Position': [0, 0, 500, 500], 'Confidence': 1}]",
    });
  });

  it('make GRPO prompts whose one-box solution the REC rewards score', () => {
    const items = recItems(images);
    const [prompt] = recPrompts(items, tinyVlmAsking);
    expect(prompt).toMatchObject({
      key: 'image 7: the circle on the left#31',
      imageId: 7,
      prompt: 'Locate the circle on the left.',
      solution: { boxes: [{ ...left, label: 'circle' }] },
      context: {
        image: { width: 100, height: 100 },
        resized: { width: 100, height: 100 },
        frame: 'norm1000',
      },
    });
    const [example] = recExamples(items, '', tinyVlmAsking);
    const right = scoreCompletion(
      tinyVlmPrompts.completion('', example!.answer),
      prompt!.solution,
      prompt!.context,
      taskRewards.rec,
    );
    expect(right.components).toEqual({ rec_iou: 1, format: 1 });
    const wrong = scoreCompletion(
      "<think></think><answer>[{'Position': [500, 500, 1000, 1000], 'Confidence': 1}]</answer>",
      prompt!.solution,
      prompt!.context,
      { rec_iou: 1, rec_giou: 1 },
    );
    expect(wrong.components.rec_iou).toBe(0);
    expect(wrong.components.rec_giou).toBeLessThan(0.5);
  });
});

/** A policy that answers each prompt with the text `answers` gives it (its prompts tiny-vlm's). */
function stubPolicy(answers: (prompt: string) => string): Policy {
  return {
    prompts: tinyVlmPrompts,
    frame: 'norm1000',
    inputSize: (s: { width: number; height: number }) => s,
    prepare: (batch: PromptInput[]) => ({ count: batch.length, batch, dispose() {} }),
    sample: (prepared: { batch: PromptInput[] }) =>
      prepared.batch.map((p, promptIndex): Sample => ({
        promptIndex,
        tokenIds: [],
        text: answers(p.prompt),
        logProbs: [],
        entropies: [],
        truncated: false,
      })),
  } as unknown as Policy;
}

describe('REC evaluation', () => {
  it('scores the first box of each closed answer by its IoU: Acc@0.5, mean IoU, per category', () => {
    const policy = stubPolicy((prompt) =>
      prompt.includes('circle')
        ? "<think>x</think><answer>[{'Position': [0, 0, 500, 500], 'Confidence': 1}, {'Position': [500, 500, 1000, 1000]}]</answer>"
        : "<think>x</think><answer>[{'Position': [500, 500, 1000, 1000], 'Confidence': 1}",
    );
    const progress: number[] = [];
    const result = evaluateRec(policy, recItems(images), {
      maxNewTokens: 50,
      onProgress: (done) => progress.push(done),
    });
    expect(result).toMatchObject({
      acc50: 0.5,
      meanIoU: 0.5,
      formatOk: 0.5,
      answers: 2,
      perCategory: { circle: { acc50: 1, items: 1 }, square: { acc50: 0, items: 1 } },
    });
    // The cut-off answer has no box the reward would read.
    expect(result.predictions.map((p) => [p.item, p.box, p.iou])).toEqual([
      [0, left, 1],
      [1, null, 0],
    ]);
    expect(progress).toEqual([2]);
  });
});

describe('classification by image-level label and synonyms', () => {
  const labelled: DatasetImage[] = [
    // Its label wins over its boxes' category.
    { imageId: 1, image: blank(8, 8), boxes: [{ category: 'circle', box: left }], label: 'aeroplane' },
    // No label and two categories: nothing to classify.
    {
      imageId: 2,
      image: blank(8, 8),
      boxes: [
        { category: 'circle', box: left },
        { category: 'square', box: right },
      ],
    },
    { imageId: 3, image: blank(8, 8), boxes: [{ category: 'square', box: right }] },
    { imageId: 4, image: blank(8, 8), boxes: [], label: 'circle' },
  ];
  const synonyms = synonymsOf([
    { name: 'aeroplane', synonyms: ['airplane', 'plane'] },
    { name: 'circle', synonyms: [] },
    { name: 'square', synonyms: [] },
  ]);

  it("label an image by its own label, else its boxes' one category", () => {
    expect(labelled.map(imageLabel)).toEqual(['aeroplane', undefined, 'square', 'circle']);
    expect(
      classificationExamples(labelled, 'It is a {category}', tinyVlmAsking).map((e) => e.answer),
    ).toEqual(['aeroplane', 'square', 'circle']);
  });

  it('give GRPO the synonyms, which the accuracy reward accepts', () => {
    const prompts = classificationPrompts(labelled, tinyVlmAsking, synonyms);
    expect(prompts.map((p) => p.solution)).toEqual([
      { label: 'aeroplane', synonyms: ['airplane', 'plane'] },
      { label: 'square' },
      { label: 'circle' },
    ]);
    const score = (answer: string) =>
      scoreCompletion(
        `<think>x</think><answer>${answer}</answer>`,
        prompts[0]!.solution,
        prompts[0]!.context,
        {
          accuracy: 1,
        },
      ).components.accuracy;
    expect([score('Airplane.'), score('aeroplane'), score('plane or car'), score('car')]).toEqual([
      1, 1, 0, 0,
    ]);
  });

  it('evaluate against the label or a synonym', () => {
    const policy = stubPolicy(() => '<think>x</think><answer>Airplane</answer>');
    const result = evaluateClassification(policy, labelled, { maxNewTokens: 10, synonyms });
    expect(result.predictions.map((p) => [labelled[p.image]!.imageId, p.label, p.correct])).toEqual([
      [1, 'aeroplane', true],
      [3, 'square', false],
      [4, 'circle', false],
    ]);
    expect(result.perCategory).toEqual({
      aeroplane: { accuracy: 1, images: 1 },
      square: { accuracy: 0, images: 1 },
      circle: { accuracy: 0, images: 1 },
    });
  });
});

describe('crowd boxes in detection', () => {
  const crowded: DatasetImage[] = [
    {
      imageId: 1,
      image: blank(100, 100),
      boxes: [
        { category: 'person', box: left, crowd: true },
        { category: 'person', box: right },
        { category: 'car', box: right },
      ],
    },
    { imageId: 2, image: blank(100, 100), boxes: [{ category: 'person', box: right }] },
  ];

  it('are never a question of training: the category is not asked of that image', () => {
    const asked = detectionQuestions(crowded, ['person', 'car'], 1, 0).map(
      (q) => `${q.img.imageId} ${q.category}`,
    );
    expect(asked).toEqual(['1 car', '2 person', '2 car']);
  });

  it('are COCO crowd regions in evaluation: never a miss, and a detection on one costs nothing', () => {
    const box = (b: typeof left, c: number) =>
      `{'Position': [${b.x1 * 10}, ${b.y1 * 10}, ${b.x2 * 10}, ${b.y2 * 10}], 'Confidence': ${c}}`;
    // Finds the one person of each image; the other policy also boxes the crowd region, at a higher score.
    const finds = stubPolicy(() => `<think>x</think><answer>[${box(right, 0.9)}]</answer>`);
    const alsoCrowd = stubPolicy(
      () => `<think>x</think><answer>[${box(left, 0.95)}, ${box(right, 0.9)}]</answer>`,
    );
    const stats = (p: Policy, imgs: DatasetImage[]) =>
      evaluateDetection(p, imgs, ['person'], { maxNewTokens: 10 }).stats;
    // AP and AR100 (stats 0 and 8): the crowd region is no missed person.
    expect([stats(finds, crowded)[0], stats(finds, crowded)[8]]).toEqual([1, 1]);
    expect(stats(alsoCrowd, [crowded[0]!])[0]).toBeCloseTo(1, 6);
    // The same box as an ordinary one is a person the first policy missed.
    const plain = crowded.map((img) => ({ ...img, boxes: img.boxes.map((b) => ({ ...b, crowd: false })) }));
    expect(stats(finds, plain)[8]).toBeCloseTo(2 / 3, 6);
  });

  it("are crowd regions in the comparison's bootstrap too: its identity draw is the evaluation's AP50", () => {
    const finds = stubPolicy(
      () => "<think>x</think><answer>[{'Position': [500, 500, 1000, 1000], 'Confidence': 0.9}]</answer>",
    );
    const evaluation = evaluateDetection(finds, crowded, ['person'], { maxNewTokens: 10 });
    const outcomes = crowded.map((img, i) => ({
      truth: img.boxes,
      detections: evaluation.predictions
        .filter((p) => p.image === i && p.box)
        .map((p) => ({ category: p.category, box: p.box!, score: p.score! })),
    }));
    const figures = detectionFigures(outcomes, ['person']);
    expect(evaluation.stats[1]).toBe(1);
    expect(figures([0, 1]).mean).toBeCloseTo(evaluation.stats[1]!, 12);
  });
});

describe("a run's material by task", () => {
  const loaded = {
    dataset: { id: 1, name: 'shapes' },
    splitId: null,
    categories: [
      { id: 1, datasetId: 1, name: 'circle', ord: 0, color: null, synonyms: ['round'] },
      { id: 2, datasetId: 1, name: 'square', ord: 1, color: null, synonyms: [] },
    ],
    categoriesInUse: ['circle', 'square'],
    images: images.map((img) => ({ ...img, path: `/images/${img.imageId}.png` })),
  } as unknown as LoadedDataset;
  const selection = { dataset: 'shapes', negativeShare: 0, seed: 0 };

  it('is the expressions for rec, the labels with synonyms for classification', () => {
    expect(grpoPromptsOf(loaded, { ...selection, task: 'rec' }, tinyVlmAsking).map((p) => p.key)).toEqual([
      'image 7: the circle on the left#31',
      'image 7: the lower right square#33',
    ]);
    expect(
      sftExamplesOf(loaded, { ...selection, task: 'rec', thinkTemplate: '{expression}' }, tinyVlmAsking).map(
        (e) => e.think,
      ),
    ).toEqual(['the circle on the left', 'the lower right square']);
    // Image 7 mixes circle and square: only image 8 (all circles) has a label.
    expect(grpoPromptsOf(loaded, { ...selection, task: 'classification' }, tinyVlmAsking)).toMatchObject([
      { key: 'image 8', solution: { label: 'circle', synonyms: ['round'] } },
    ]);
  });

  it('is refused with what to do when the dataset has none', () => {
    const bare = { ...loaded, images: [] } as LoadedDataset;
    expect(() => grpoPromptsOf(bare, { ...selection, task: 'rec' }, tinyVlmAsking)).toThrow(
      /referring expression: type one/,
    );
    expect(() =>
      sftExamplesOf(bare, { ...selection, task: 'classification', thinkTemplate: '' }, tinyVlmAsking),
    ).toThrow(/No image of "shapes" has a label to classify \(set image labels in the annotator/);
  });
});
