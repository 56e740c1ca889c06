/**
 * Reading boxes and labels out of an answer. Three detection dialects are accepted and named:
 * - `visual-rft`: [{'Position': [x1, y1, x2, y2], 'Confidence': 0.87}, …] on 0–1000;
 * - `qwen2-vl`: <|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|> on 0–1000;
 * - `qwen2.5-vl`: a ```json block (the last one) or bare JSON list of {"bbox_2d": [...], "label": …}
 *   in the model's resized-input pixels.
 * Then the sanitising rules, always: a NaN / infinite / missing / non-numeric confidence is 0,
 * confidences are clamped to [0, 1], coordinates to the frame, boxes with x2 ≤ x1 or y2 ≤ y1
 * after clamping and exact duplicates are dropped. Every dropped item is listed with its reason.
 */
import type { Box } from '../../shared/boxes';
import { frameExtent, qwenResizedSize, type Frame, type FrameSizes } from './frames';

export type Dialect = 'visual-rft' | 'qwen2-vl' | 'qwen2.5-vl' | 'bare-list' | 'empty' | 'none';

/** The frame each dialect writes in when the caller does not say otherwise. */
export const dialectFrame: Record<Dialect, Frame> = {
  'visual-rft': 'norm1000',
  'qwen2-vl': 'norm1000',
  'qwen2.5-vl': 'resized',
  'bare-list': 'resized',
  empty: 'pixels',
  none: 'pixels',
};

export interface PredictedBox extends Box {
  confidence: number;
  label?: string;
}

export interface Dropped {
  item: string;
  reason: string;
}

export interface ParsedBoxes {
  dialect: Dialect;
  frame: Frame;
  /** In original-image pixels; exact duplicates left out. */
  boxes: PredictedBox[];
  /** Every readable box in the order written, exact duplicates included (odLength's AP sees them). */
  withDuplicates: PredictedBox[];
  /** How many boxes the model wrote, readable or not: odLength's N_pred. */
  written: number;
  /** Some item was not a box (a cut-off tail aside): the published Visual-RFT rewards then give 0. */
  malformed: boolean;
  dropped: Dropped[];
  /** Sanitising that kept an item but changed it (a NaN confidence set to 0, say). */
  notes: string[];
}

export interface BoxContext {
  image: FrameSizes['image'];
  resized?: FrameSizes['resized'];
  /** The frame the model answers in; by default the frame of the dialect it used. */
  frame?: Frame;
}

interface RawBox {
  coords: number[];
  confidence: unknown;
  label?: string;
  text: string;
}

/** What a dialect reader found: the boxes it could read, and how many items it saw in all. */
interface RawBoxes {
  raw: RawBox[];
  written: number;
  malformed: boolean;
}

const number = '[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?';
const numberPattern = new RegExp(`^${number}$`);
const fourNumbers = new RegExp(
  `^\\s*(${number})\\s*,\\s*(${number})\\s*,\\s*(${number})\\s*,\\s*(${number})\\s*,?\\s*$`,
);
const emptyAnswer = /^\W*no\s+objects?\W*$/i;

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}…` : flat;
}

/** A confidence as a model wrote it → a number in [0, 1], with a note when it was not one. */
function sanitiseConfidence(raw: unknown, notes: string[], index: number, expected: boolean): number {
  if (raw === undefined && !expected) return 0;
  let value: number;
  if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'string' && numberPattern.test(raw.trim())) value = Number(raw.trim());
  else value = Number.NaN;
  if (!Number.isFinite(value)) {
    notes.push(`box ${index + 1}: confidence ${raw === undefined ? 'missing' : JSON.stringify(raw)} → 0`);
    return 0;
  }
  if (value < 0 || value > 1) notes.push(`box ${index + 1}: confidence ${value} clamped to [0, 1]`);
  return Math.min(Math.max(value, 0), 1);
}

function numbers(list: string): number[] | undefined {
  // The common case, four plain numbers, in one match; anything else the slow way.
  const four = fourNumbers.exec(list);
  if (four) return [Number(four[1]), Number(four[2]), Number(four[3]), Number(four[4])];
  const parts = list.split(',').map((p) => p.trim());
  if (parts.length && parts.at(-1) === '') parts.pop();
  if (!parts.every((p) => numberPattern.test(p))) return undefined;
  return parts.map(Number);
}

function visualRftBoxes(answer: string, dropped: Dropped[]): RawBoxes {
  const out: RawBox[] = [];
  const objectPattern = /\{[^{}]*\}/g;
  let lastEnd = 0;
  let written = 0;
  for (const match of answer.matchAll(objectPattern)) {
    lastEnd = match.index + match[0].length;
    written++;
    const text = match[0];
    // The keys are the prompt's, case and all, as the published reward reads them (`bbox['Position']`).
    const position = /Position['"]?\s*:\s*\[+([^[\]]*)\]/.exec(text);
    if (!position?.[1]) {
      dropped.push({ item: excerpt(text), reason: 'no Position list' });
      continue;
    }
    const coords = numbers(position[1]);
    if (!coords || coords.length !== 4) {
      dropped.push({ item: excerpt(text), reason: 'Position needs four numbers' });
      continue;
    }
    const confidence = /Confidence['"]?\s*:\s*([^,}\s]+)/.exec(text)?.[1];
    out.push({ coords, confidence, text });
  }
  const tail = answer.slice(lastEnd);
  if (tail.includes('{')) dropped.push({ item: excerpt(tail), reason: 'incomplete object (cut off)' });
  return { raw: out, written, malformed: out.length < written };
}

function qwen2Boxes(answer: string, dropped: Dropped[]): RawBoxes {
  const out: RawBox[] = [];
  const n = '([+-]?\\d+(?:\\.\\d+)?)';
  const pattern = new RegExp(
    `(?:<\\|object_ref_start\\|>([\\s\\S]*?)<\\|object_ref_end\\|>\\s*)?<\\|box_start\\|>\\s*\\(\\s*${n}\\s*,\\s*${n}\\s*\\)\\s*,\\s*\\(\\s*${n}\\s*,\\s*${n}\\s*\\)\\s*<\\|box_end\\|>`,
    'g',
  );
  let boxTokens = 0;
  for (const match of answer.matchAll(pattern)) {
    const [text, label, ...coords] = match;
    out.push({ coords: coords.map(Number), confidence: undefined, label: label?.trim(), text });
  }
  boxTokens = answer.split('<|box_start|>').length - 1;
  if (boxTokens > out.length) {
    dropped.push({
      item: `${boxTokens - out.length} box token group(s)`,
      reason: 'not (x1,y1),(x2,y2) or cut off',
    });
  }
  return { raw: out, written: boxTokens, malformed: boxTokens > out.length };
}

function jsonObjects(text: string): unknown[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value)) return value;
    if (value && typeof value === 'object') return [value];
  } catch {
    // Not whole JSON (cut off, or a trailing comma): read the complete objects one by one.
  }
  return undefined;
}

function qwen25Boxes(answer: string, dropped: Dropped[]): RawBoxes {
  const blocks = [...answer.matchAll(/```(?:json)?\s*([\s\S]*?)```/g)];
  let body = blocks.at(-1)?.[1];
  if (body === undefined) body = /```(?:json)?\s*([\s\S]*)$/.exec(answer)?.[1] ?? answer;
  let objects = jsonObjects(body.trim());
  let unreadable = 0;
  if (!objects) {
    objects = [];
    let lastEnd = 0;
    for (const match of body.matchAll(/\{[^{}]*\}/g)) {
      lastEnd = match.index + match[0].length;
      const parsed = jsonObjects(match[0]) ?? jsonObjects(match[0].replace(/'/g, '"'));
      if (parsed) objects.push(...parsed);
      else {
        unreadable++;
        dropped.push({ item: excerpt(match[0]), reason: 'not a JSON object' });
      }
    }
    if (body.slice(lastEnd).includes('{')) {
      dropped.push({ item: excerpt(body.slice(lastEnd)), reason: 'incomplete object (cut off)' });
    }
  }
  const out: RawBox[] = [];
  for (const object of objects) {
    const text = excerpt(JSON.stringify(object) ?? '');
    const record = (object && typeof object === 'object' ? object : {}) as Record<string, unknown>;
    const bbox = record.bbox_2d;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number')) {
      dropped.push({ item: text, reason: 'bbox_2d needs four numbers' });
      continue;
    }
    const label = typeof record.label === 'string' ? record.label.trim() : undefined;
    out.push({ coords: bbox as number[], confidence: record.confidence ?? record.score, label, text });
  }
  const written = objects.length + unreadable;
  return { raw: out, written, malformed: out.length < written };
}

/** Exact duplicates: same box, confidence and label as the model wrote them. */
function sameAnswerBox(a: PredictedBox, b: PredictedBox): boolean {
  return (
    a.x1 === b.x1 &&
    a.y1 === b.y1 &&
    a.x2 === b.x2 &&
    a.y2 === b.y2 &&
    a.confidence === b.confidence &&
    a.label === b.label
  );
}

/** Which dialect an answer is written in. */
export function detectDialect(answer: string): Dialect {
  if (answer.includes('<|box_start|>')) return 'qwen2-vl';
  if (/bbox_2d/.test(answer)) return 'qwen2.5-vl';
  if (/position/i.test(answer)) return 'visual-rft';
  const unfenced = answer.replace(/```(json)?/g, '').trim();
  if (emptyAnswer.test(unfenced) || /^\[+\s*\]+$/.test(unfenced)) return 'empty';
  if (/^\[+\s*[+-]?[\d.]+\s*,/.test(unfenced)) return 'bare-list';
  return 'none';
}

/** Reads every box of a detection answer, sanitised, in original-image pixels. */
export function parseBoxes(answer: string, context: BoxContext): ParsedBoxes {
  const dialect = detectDialect(answer);
  const frame = context.frame ?? dialectFrame[dialect];
  const dropped: Dropped[] = [];
  const notes: string[] = [];
  let read: RawBoxes = { raw: [], written: 0, malformed: false };
  if (dialect === 'visual-rft') read = visualRftBoxes(answer, dropped);
  else if (dialect === 'qwen2-vl') read = qwen2Boxes(answer, dropped);
  else if (dialect === 'qwen2.5-vl') read = qwen25Boxes(answer, dropped);
  else if (dialect === 'bare-list') read = bareLists(answer, dropped);
  else if (dialect === 'none' && answer.trim())
    dropped.push({ item: excerpt(answer), reason: 'no boxes found' });
  const { raw } = read;

  const sizes: FrameSizes = {
    image: context.image,
    resized: context.resized ?? qwenResizedSize(context.image),
  };
  const extent = frameExtent(frame, sizes);
  // Clamp in the model's frame, then scale to pixels (toPixels, written out: this loop is hot).
  const sx = sizes.image.width / extent.width;
  const sy = sizes.image.height / extent.height;
  const boxes: PredictedBox[] = [];
  const withDuplicates: PredictedBox[] = [];
  for (let index = 0; index < raw.length; index++) {
    const item = raw[index]!;
    const c = item.coords;
    const x1 = Math.min(Math.max(c[0]!, 0), extent.width);
    const y1 = Math.min(Math.max(c[1]!, 0), extent.height);
    const x2 = Math.min(Math.max(c[2]!, 0), extent.width);
    const y2 = Math.min(Math.max(c[3]!, 0), extent.height);
    if (!(x2 > x1 && y2 > y1)) {
      dropped.push({ item: excerpt(item.text), reason: 'empty box (x2 ≤ x1 or y2 ≤ y1 after clamping)' });
      continue;
    }
    const confidence = sanitiseConfidence(item.confidence, notes, index, dialect === 'visual-rft');
    const box: PredictedBox = { x1: x1 * sx, y1: y1 * sy, x2: x2 * sx, y2: y2 * sy, confidence };
    if (item.label !== undefined) box.label = item.label;
    withDuplicates.push(box);
    if (boxes.some((b) => sameAnswerBox(b, box))) {
      dropped.push({ item: excerpt(item.text), reason: 'exact duplicate' });
      continue;
    }
    boxes.push(box);
  }
  const { written, malformed } = read;
  return { dialect, frame, boxes, withDuplicates, written, malformed, dropped, notes };
}

function bareLists(answer: string, dropped: Dropped[]): RawBoxes {
  const out: RawBox[] = [];
  let written = 0;
  for (const match of answer.matchAll(/\[([^[\]]*)\]/g)) {
    written++;
    const coords = numbers(match[1] ?? '');
    if (coords?.length === 4) out.push({ coords, confidence: undefined, text: match[0] });
    else dropped.push({ item: excerpt(match[0]), reason: 'a box needs four numbers' });
  }
  return { raw: out, written, malformed: out.length < written };
}

/**
 * The box of a referring-expression answer, as VLM-R1 reads it (qwen_module.py, iou_reward): the
 * first `[d, d, d, d]` anywhere in the answer, whole numbers only, whatever key or prose surrounds
 * it (`{"bbox_2d": [...]}`, `{"bbox": [...]}`, `The car is at [...]`). Qwen2-VL box tokens, which
 * that regex cannot read, are read as in detection. Then the sanitising of parseBoxes.
 */
export function parseFirstBox(answer: string, context: BoxContext): PredictedBox | undefined {
  if (detectDialect(answer) === 'qwen2-vl') return parseBoxes(answer, context).boxes[0];
  const first = /\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]/.exec(answer);
  if (!first) return undefined;
  const [, x1, y1, x2, y2] = first;
  return parseBoxes(`[${x1}, ${y1}, ${x2}, ${y2}]`, context).boxes[0];
}
