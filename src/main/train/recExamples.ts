/**
 * Referring-expression comprehension (REC, VLM-R1) and reasoning grounding (LISA-style questions)
 * on a workspace dataset: every box with an expression is one item — the expression asked, that
 * one box the answer.
 */
import type { Box } from '../../shared/boxes';
import { UserError } from '../../shared/errors';
import { positionPhrase } from '../data/shapeworld';
import type { GrpoPrompt } from './grpo/trainer';
import type { DatasetImage, PromptingPolicy } from './datasetExamples';
import type { SftExample } from './sft';

export interface RecItem {
  img: DatasetImage;
  /** Index of the box in `img.boxes`, for a stable key where the box has no workspace id. */
  index: number;
  expression: string;
  category: string;
  box: Box;
}

/** Every box of the images that has an expression, image by image in box order. */
export function recItems(images: DatasetImage[]): RecItem[] {
  return images.flatMap((img) =>
    img.boxes.flatMap((b, index) => {
      const expression = b.expression?.trim() ?? '';
      return expression ? [{ img, index, expression, category: b.category, box: b.box }] : [];
    }),
  );
}

/** The items, or a message saying how a dataset gets expressions. */
export function atLeastOneRecItem<T>(items: T[], dataset: string): T[] {
  if (items.length > 0) return items;
  throw new UserError(
    'invalid_input',
    `No box of "${dataset}" has a referring expression: type one for each box to find in the ` +
      'annotator (the expression field of a box), or import VLM-R1 REC or LISA data, then train or ' +
      'evaluate with task "rec" again.',
  );
}

/** Which box of which image an item is, the same across runs: the annotation's id when stored. */
export function recKey(item: RecItem): string {
  const id = item.img.boxes[item.index]?.id;
  return `image ${item.img.imageId}: ${item.expression}#${id ?? `box ${item.index}`}`;
}

/**
 * SFT examples of REC: the answer is the one box in the policy's own answer format. The thinking
 * is `thinkTemplate` with `{expression}`, `{category}` and `{objects}` filled in ("A circle at the
 * top left.", as detection's thinking names an object).
 */
export function recExamples(items: RecItem[], thinkTemplate: string, policy: PromptingPolicy): SftExample[] {
  return items.map(({ img, expression, category, box }) => {
    const { width, height } = img.image;
    const objects = `A ${category} ${positionPhrase(box, width, height)}.`;
    return {
      image: img.image,
      prompt: policy.prompts.rec(expression),
      think: thinkTemplate
        .replaceAll('{expression}', expression)
        .replaceAll('{category}', category)
        .replaceAll('{objects}', objects),
      answer: policy.prompts.boxesAnswer(
        [{ ...box, label: category }],
        { width, height },
        policy.inputSize(img.image),
      ),
    };
  });
}

/** GRPO prompts of REC: the one box as the solution, in the frame the policy answers in. */
export function recPrompts(items: RecItem[], policy: PromptingPolicy): GrpoPrompt[] {
  return items.map((item) => ({
    key: recKey(item),
    imageId: item.img.imageId,
    image: item.img.image,
    prompt: policy.prompts.rec(item.expression),
    solution: { boxes: [{ ...item.box, label: item.category }] },
    context: {
      image: { width: item.img.image.width, height: item.img.image.height },
      resized: policy.inputSize(item.img.image),
      frame: policy.frame,
    },
  }));
}
