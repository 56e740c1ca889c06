/**
 * The papers' own prompts for each Qwen family, so a checkpoint trained by their scripts and one
 * trained here are asked alike:
 * - Qwen2-VL: Visual-RFT's (Table 1): a `[{'Position': [x1, y1, x2, y2], 'Confidence': c}]` list on
 *   0–1000, thinking in <think>, the answer in <answer>.
 * - Qwen2.5-VL: VLM-R1's: `{"bbox_2d": [x1, y1, x2, y2], "label": …}` JSON in absolute pixels of
 *   the resized input (the frame Qwen2.5-VL was pre-trained to answer in).
 * Either way the chat template wraps the text after the image (chat.ts).
 */
import { fromPixelsRounded } from '../../rewards/frames';
import type { TaskPrompts } from '../prompts';
import { boxesAnswer as visualRftList } from '../tiny-vlm/prompts';

const thinkThenAnswer =
  'Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.';

const completion = (think: string, answer: string) => `<think>${think}</think> <answer>${answer}</answer>`;

/** Visual-RFT's prompts (Qwen2-VL, 0–1000). */
export const qwen2VlPrompts: TaskPrompts = {
  detection: (category) =>
    `Detect all objects belonging to the category '${category}' in the image, and provide the bounding ` +
    'boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places). ' +
    `If no object belonging to the category '${category}' in the image, return 'No Objects'. ` +
    `${thinkThenAnswer} The output answer format should be as follows:\n` +
    "<think> ... </think> <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': number}, ...]</answer>\n" +
    'Please strictly follow the format.',
  classification: () =>
    'What is the category of the main object in this image? ' +
    `${thinkThenAnswer} The output answer format should be as follows:\n` +
    '<think> ... </think> <answer>category name</answer>\nPlease strictly follow the format.',
  rec: (expression) =>
    `Please provide the bounding box of the region this sentence describes: ${expression}. ` +
    `${thinkThenAnswer} The output answer format should be as follows:\n` +
    "<think> ... </think> <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': number}]</answer>\n" +
    'Please strictly follow the format.',
  ovd: (categories) =>
    `Detect all objects belonging to the categories ${categories.map((c) => `'${c}'`).join(', ')} in the ` +
    'image, and provide the bounding boxes (between 0 and 1000, integer) and confidence. ' +
    `${thinkThenAnswer} The output answer format should be as follows:\n` +
    "<think> ... </think> <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': number}, ...]</answer>\n" +
    'Please strictly follow the format.',
  boxesAnswer: (boxes, image) => visualRftList(boxes, image),
  completion,
};

const r1Suffix =
  ' First output the thinking process in <think> </think> tags and then output the final answer in ' +
  '<answer> </answer> tags.';

/** VLM-R1's prompts (Qwen2.5-VL, pixels of the resized input). */
export const qwen25VlPrompts: TaskPrompts = {
  detection: (category) =>
    `Please carefully check the image and detect the following objects: ['${category}']. ` +
    'Output each detected target\'s bbox coordinates in JSON format: [{"bbox_2d": [x1, y1, x2, y2], ' +
    `"label": "${category}"}, ...]. If there are no such targets in the image, output [].${r1Suffix}`,
  classification: () =>
    `What is the category of the main object in this image? Answer with the category name only.${r1Suffix}`,
  rec: (expression) =>
    `Please provide the bounding box coordinate of the region this sentence describes: ${expression}.` +
    `${r1Suffix} Output the final answer in JSON format.`,
  ovd: (categories) =>
    'Please carefully check the image and detect the following objects: ' +
    `[${categories.map((c) => `'${c}'`).join(', ')}]. Output each detected target's bbox coordinates in ` +
    'JSON format: [{"bbox_2d": [x1, y1, x2, y2], "label": "target name"}, ...]. If there are no such ' +
    `targets in the image, output [].${r1Suffix}`,
  boxesAnswer: (boxes, image, resized) => {
    const items = boxes.map((b) => {
      const r = fromPixelsRounded(b, 'resized', { image, resized });
      return `{"bbox_2d": [${r.x1}, ${r.y1}, ${r.x2}, ${r.y2}], "label": ${JSON.stringify(b.label ?? '')}}`;
    });
    return `\`\`\`json\n[${items.join(', ')}]\n\`\`\``;
  },
  completion,
};
