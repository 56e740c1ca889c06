/**
 * tiny-vlm's own prompt templates and answer format (Visual-RFT's list, integers on 0–1000).
 * Pre-training, SFT targets, GRPO prompts and evaluation all use these, so they always agree.
 */
import type { Box, Size } from '../../../shared/boxes';
import { fromPixelsRounded } from '../../rewards/frames';
import type { TaskPrompts } from '../prompts';

export const detectionPrompt = (category: string) => `Find every ${category}.`;
export const classificationPrompt = () => 'What shape is this?';
export const recPrompt = (expression: string) => `Locate ${expression}.`;
export const ovdPrompt = (categories: readonly string[]) => `Find every ${categories.join(', ')}.`;

export function boxesAnswer(boxes: readonly (Box & { confidence?: number })[], image: Size): string {
  if (boxes.length === 0) return 'No Objects';
  const items = boxes.map((b) => {
    const n = fromPixelsRounded(b, 'norm1000', { image });
    const confidence = b.confidence === undefined ? 1 : Number(b.confidence.toFixed(2));
    return `{'Position': [${n.x1}, ${n.y1}, ${n.x2}, ${n.y2}], 'Confidence': ${confidence}}`;
  });
  return `[${items.join(', ')}]`;
}

export function completionText(think: string, answer: string): string {
  return `<think>${think}</think><answer>${answer}</answer>`;
}

export const tinyVlmPrompts: TaskPrompts = {
  detection: detectionPrompt,
  classification: classificationPrompt,
  rec: recPrompt,
  ovd: ovdPrompt,
  boxesAnswer: (boxes, image) => boxesAnswer(boxes, image),
  completion: completionText,
};
