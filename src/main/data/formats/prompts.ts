/**
 * The prompt and answer templates of the two RFT dataset formats, in one place: the exporter writes
 * them and the importer reads the category names back out of them.
 *
 * - Visual-RFT (Liu et al. 2025, Table 1; worded as in the repository's dataset build scripts,
 *   including the missing space after "tags."): one detection prompt per category, the answer a
 *   list of {'Position': [x1, y1, x2, y2], 'Confidence': c} with integers on 0–1000, or 'No Objects'.
 * - VLM-R1 open-vocabulary detection (om-ai-lab/VLM-R1, examples/ovd): one prompt naming every
 *   category as a Python list, the answer a ```json block of {"bbox_2d": […], "label": …}, or "None".
 */
import type { Box } from '../../../shared/boxes';
import { parseBoxes } from '../../rewards/parse';

export function visualRftPrompt(category: string): string {
  return (
    `Detect all objects belonging to the category '${category}' in the image, and provide the bounding ` +
    'boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places).\n' +
    `If no object belonging to the category '${category}' in the image, return 'No Objects'.\n` +
    'Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.' +
    'The output answer format should be as follows:\n' +
    "<think> ... </think> <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': number}, ...]</answer>\n" +
    'Please strictly follow the format.'
  );
}

/** The category a Visual-RFT detection prompt asks about (the paper typesets the quotes as ’). */
export function visualRftCategory(problem: string): string | undefined {
  return /Detect all objects belonging to the category\s*['’‘"](.+?)['’"]\s*in the image/s
    .exec(problem)?.[1]
    ?.trim();
}

/** Boxes already rounded to integers on 0–1000. */
export function visualRftSolution(boxes: readonly Box[]): string {
  if (boxes.length === 0) return '<answer>No Objects</answer>';
  const items = boxes.map((b) => `{'Position': [${b.x1}, ${b.y1}, ${b.x2}, ${b.y2}], 'Confidence': 1}`);
  return `<answer>[${items.join(', ')}]</answer>`;
}

/** A Visual-RFT solution's boxes on 0–1000 (clamped to it), or the reason it cannot be read. */
export function readVisualRftSolution(solution: string): { boxes: Box[] } | { problem: string } {
  const answer = /<answer>([\s\S]*?)(?:<\/answer>|$)/.exec(solution)?.[1] ?? solution;
  // The reward parser reads this dialect (quotes, brackets, cut-off lists); a 1000 × 1000 "image"
  // keeps its boxes on 0–1000 instead of turning them into pixels.
  const parsed = parseBoxes(answer.trim(), { image: { width: 1000, height: 1000 }, frame: 'norm1000' });
  if (parsed.dialect !== 'visual-rft' && parsed.dialect !== 'empty') {
    return {
      problem:
        "is not a Visual-RFT answer (expected <answer>[{'Position': [x1, y1, x2, y2], 'Confidence': 1}]" +
        '</answer> or <answer>No Objects</answer>)',
    };
  }
  const bad = parsed.dropped.find((d) => d.reason !== 'exact duplicate');
  if (bad) return { problem: `${bad.reason}: ${bad.item}` };
  return { boxes: parsed.boxes.map(({ x1, y1, x2, y2 }) => ({ x1, y1, x2, y2 })) };
}

export function vlmR1Prompt(categories: readonly string[]): string {
  return (
    '<image>Please carefully check the image and detect the following objects: ' +
    `${pythonList(categories)}. Output the bbox coordinates of detected objects in <answer></answer>. ` +
    'The bbox coordinates in Markdown format should be:\n```json\n' +
    '[{"bbox_2d": [x1, y1, x2, y2], "label": "object name"}]\n```\n' +
    'If no targets are detected in the image, simply respond with "None".'
  );
}

/** The categories a VLM-R1 detection prompt names, or undefined when it names none that way. */
export function vlmR1Categories(prompt: string): string[] | undefined {
  const match = /detect the following objects:\s*/i.exec(prompt);
  return match ? readPythonList(prompt.slice(match.index + match[0].length)) : undefined;
}

export interface LabelledBox {
  label: string;
  box: Box;
}

/** The gpt turn of a VLM-R1 line: a ```json block of labelled pixel boxes, or "None". */
export function vlmR1Answer(boxes: readonly LabelledBox[]): string {
  if (boxes.length === 0) return 'None';
  const items = boxes.map(({ label, box }) => ({ bbox_2d: [box.x1, box.y1, box.x2, box.y2], label }));
  return `\`\`\`json\n${JSON.stringify(items)}\n\`\`\``;
}

/** A VLM-R1 answer's labelled boxes, or the reason it cannot be read. */
export function readVlmR1Answer(value: string): { boxes: LabelledBox[] } | { problem: string } {
  let text = (/<answer>([\s\S]*?)<\/answer>/.exec(value)?.[1] ?? value).trim();
  const fenced = [...text.matchAll(/```(?:json)?\s*([\s\S]*?)```/g)].at(-1)?.[1];
  if (fenced !== undefined) text = fenced.trim();
  if (text === '' || /^(none|no objects?)\.?$/i.test(text)) return { boxes: [] };
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (error) {
    return { problem: `the answer is not JSON (${(error as Error).message})` };
  }
  if (!Array.isArray(items)) items = [items];
  const boxes: LabelledBox[] = [];
  for (const [i, item] of (items as unknown[]).entries()) {
    const record = (item && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    const bbox = record.bbox_2d;
    if (
      !Array.isArray(bbox) ||
      bbox.length !== 4 ||
      !bbox.every((v) => typeof v === 'number' && Number.isFinite(v))
    ) {
      return { problem: `answer item ${i + 1}: bbox_2d must be [x1, y1, x2, y2], four numbers` };
    }
    if (typeof record.label !== 'string' || record.label.trim() === '') {
      return { problem: `answer item ${i + 1}: "label" must name the category` };
    }
    const [x1, y1, x2, y2] = bbox as [number, number, number, number];
    boxes.push({ label: record.label.trim(), box: { x1, y1, x2, y2 } });
  }
  return { boxes };
}

/** A Python list literal of strings, as VLM-R1 formats its category list: ['cat', "dog's toy"]. */
function pythonList(names: readonly string[]): string {
  const quote = (s: string) =>
    s.includes("'") && !s.includes('"')
      ? `"${s.replace(/\\/g, '\\\\')}"`
      : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `[${names.map(quote).join(', ')}]`;
}

function readPythonList(text: string): string[] | undefined {
  const match = /^\[((?:\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*,?)*)\s*\]/.exec(text);
  if (!match) return undefined;
  return [...match[1]!.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)]
    .map((m) => (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1').trim())
    .filter((name) => name !== '');
}

/**
 * VLM-R1's REC question (RefCOCO/+/g, as its rec_jsons_processed files ask it): the referring
 * expression follows "describes:".
 */
export function recPrompt(expression: string): string {
  return `<image>Please provide the bounding box coordinate of the region this sentence describes: ${expression}.`;
}

/**
 * The referring expression of a REC question: the text after "describes:" up to its last "."; a
 * question without that phrase is its own expression (a LISA-style question, a bare phrase).
 */
export function recExpression(question: string): string {
  const text = question.replace(/<image>/g, '').trim();
  const match = /describes:\s*/i.exec(text);
  if (!match) return text;
  const rest = text.slice(match.index + match[0].length);
  const dot = rest.lastIndexOf('.');
  return (dot > 0 ? rest.slice(0, dot) : rest).trim();
}

/** A REC answer written as xyxy numbers. */
export function recAnswer(box: Box): string {
  return `[${box.x1}, ${box.y1}, ${box.x2}, ${box.y2}]`;
}

/**
 * The one box of a REC answer: [x1, y1, x2, y2] as a JSON list or as text ("[6, 187, 150, 337]",
 * "<answer>[…]</answer>"); undefined when the answer is not a bare box (a detection answer).
 */
export function readRecAnswer(value: unknown): Box | undefined {
  let list: unknown = value;
  if (typeof value === 'string') {
    const text = (/<answer>([\s\S]*?)<\/answer>/.exec(value)?.[1] ?? value).trim();
    if (!/^\[[^[\]{}]*\]$/.test(text)) return undefined;
    try {
      list = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(list) || list.length !== 4) return undefined;
  if (!list.every((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
  const [x1, y1, x2, y2] = list as [number, number, number, number];
  return { x1, y1, x2, y2 };
}

/**
 * Visual-RFT's classification prompt (its few-shot flower, pet, car and aircraft sets ask "This
 * is an image containing a flower. Please identify the species of the flower…"), for a kind of
 * object the dataset does not name: "object", "category".
 */
export function visualRftClassificationPrompt(kind = 'object'): string {
  return (
    `This is an image containing an ${kind}. Please identify the category of the ${kind} based on the image.\n` +
    'Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.' +
    'The output answer format should be as follows:\n' +
    '<think> ... </think> <answer>category name</answer>\n' +
    'Please strictly follow the format.'
  );
}

/**
 * The category a Visual-RFT classification solution names (<answer>daisy</answer>), or undefined
 * when the answer is a box list or says there is nothing ('No Objects'): a detection solution.
 */
export function readVisualRftLabel(solution: string): string | undefined {
  const answer = /<answer>([\s\S]*?)<\/answer>/.exec(solution)?.[1]?.trim();
  if (answer === undefined || answer === '' || /[[\]{}]/.test(answer)) return undefined;
  if (/^(none|no objects?)\.?$/i.test(answer)) return undefined;
  return answer.replace(/\s+/g, ' ');
}
