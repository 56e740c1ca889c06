/**
 * VLM-R1 JSONL: one JSON object per line, {id, image, conversations: [{from: 'human', value:
 * '<image>…'}, {from: 'gpt', value: …}]}, as its grpo_jsonl.py trainer reads. For detection the
 * human turn is the open-vocabulary prompt naming every category and the gpt turn a ```json list
 * of {"bbox_2d": [x1, y1, x2, y2], "label": …}, or "None".
 *
 * Frame: bbox_2d is in pixels of the original image as displayed, not of Qwen2.5-VL's resized
 * input. A dataset file must not depend on which model trains on it (the resized size changes
 * with the model's min/max pixels), and original pixels round-trip exactly; a trainer feeding
 * Qwen2.5-VL converts to its input frame at that boundary (rewards/frames, `resized`).
 * Exporting with `resizedSize` writes that frame instead (whole pixels of the resized input, what
 * Qwen2.5-VL reads and writes), for a trainer that compares the model's answers with bbox_2d as
 * they stand; such a file is tied to the model's min/max pixels and does not import back as the same boxes.
 *
 * REC (RefCOCO/+/g as VLM-R1's rec_jsons_processed files hold them): a line asks for the box a
 * referring expression describes and answers one [x1, y1, x2, y2] (a list, or text, in <answer>
 * tags or not), in the same original pixels. The line is either the conversations form or
 * {image, problem, solution}; a file may also be one JSON list of such records. Each line's id,
 * category list and accu_reward_method are kept (source_line) and written back by the export.
 */
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { fromPixelsRounded } from '../../rewards/frames';
import { ImagesByPath, jsonSyntaxError, readText, refuse } from './files';
import { exportFile, writeFileAtomic } from '../safeWrite';
import {
  readRecAnswer,
  readVlmR1Answer,
  recAnswer,
  recExpression,
  recPrompt,
  vlmR1Answer,
  vlmR1Categories,
  vlmR1Prompt,
} from './prompts';
import type {
  DatasetFormat,
  ExportBox,
  ExportImage,
  ExportLine,
  ExportWriter,
  SourceLineMeta,
} from './types';

interface Turn {
  from?: unknown;
  value?: unknown;
}

/** One line as read: its image(s), question and answer, and what source_line keeps. */
interface Line {
  images: string[];
  question: string;
  answer: unknown;
  lineId: string;
  accuRewardMethod: string | null;
  /** A category the line itself names ("category" or "label"), for a REC box. */
  category?: string;
}

/** The format name source_line rows of this reader carry. */
export const vlmR1LineFormat = 'vlm-r1';

/** The category of a REC box whose line names none. */
export const recDefaultCategory = 'object';

export const vlmR1Format: DatasetFormat = {
  async read(file, context) {
    const images = new ImagesByPath(path.dirname(file), context.imageRoot);
    const categories: string[] = [];
    const add = (name: string) => categories.includes(name) || categories.push(name);
    const skippedLines: { where: string; reason: string }[] = [];
    let severalImages = 0;
    const uncategorised = new Set<number>(); // lines, not boxes: a split line counts once
    records(file).forEach(({ where, value }, index) => {
      const line = readLine(file, where, value);
      const asked = vlmR1Categories(line.question) ?? null;
      (asked ?? []).forEach(add);
      const meta: SourceLineMeta = {
        index,
        format: vlmR1LineFormat,
        lineId: line.lineId,
        categories: asked,
        accuRewardMethod: line.accuRewardMethod,
      };
      const answers = perImage(line);
      if (!answers) {
        severalImages++;
        skippedLines.push({
          where: `${file}, ${where}`,
          reason: `names ${line.images.length} images and its answer is not one per image; vrft trains on one image per question`,
        });
        return;
      }
      answers.forEach((answer, k) => {
        const at = line.images.length > 1 ? `${where}, image ${k + 1}` : where;
        const rec = readRecAnswer(answer);
        if (rec) {
          const category = line.category ?? recDefaultCategory;
          if (line.category === undefined) uncategorised.add(index);
          add(category);
          images.get(line.images[k]!, at)?.boxes.push({
            category,
            file,
            where: `${at}, answer`,
            frame: 'pixels',
            box: rec,
            expression: recExpression(line.question),
            line: meta,
          });
          return;
        }
        if (typeof answer !== 'string' && !Array.isArray(answer)) {
          refuse(
            file,
            at,
            'the answer must be text, a [x1, y1, x2, y2] box or a list of {"bbox_2d", "label"}',
          );
        }
        const read = readVlmR1Answer(typeof answer === 'string' ? answer : JSON.stringify(answer));
        if ('problem' in read) {
          refuse(
            file,
            at,
            `${read.problem} (a REC answer is one [x1, y1, x2, y2]; a detection answer a list of {"bbox_2d", "label"})`,
          );
        }
        const image = images.get(line.images[k]!, at);
        if (!image) return;
        (image.lines ??= []).push(meta);
        read.boxes.forEach(({ label, box }, b) => {
          add(label);
          image.boxes.push({ category: label, file, where: `${at}, box ${b + 1}`, frame: 'pixels', box });
        });
      });
    });
    const warnings = images.warnings();
    if (severalImages > 0) {
      warnings.push(
        `${severalImages} line${severalImages === 1 ? ' names' : 's name'} several images; vrft trains on one ` +
          `image per question: skipped (the first: ${skippedLines[0]!.where})`,
      );
    }
    if (uncategorised.size > 0) {
      const n = uncategorised.size;
      warnings.push(
        `${n} REC line${n === 1 ? '' : 's'} named no category: ` +
          `${n === 1 ? 'its box is' : 'their boxes are'} in the category '${recDefaultCategory}'`,
      );
    }
    return { categories, images: images.list(), missing: images.missing(), warnings, skippedLines };
  },
};

/** The file's records: one JSON object per line (JSONL), or one JSON list of them. */
function records(file: string): { where: string; value: unknown }[] {
  const text = readText(file);
  if (text.trimStart().startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (error) {
      refuse(file, ...jsonSyntaxError(text, error));
    }
    if (!Array.isArray(list)) refuse(file, '', 'must be JSON lines or one JSON list of records');
    return list.map((value, i) => ({ where: `[${i}]`, value }));
  }
  const out: { where: string; value: unknown }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `line ${i + 1}`;
    try {
      out.push({ where, value: JSON.parse(line) });
    } catch (error) {
      // The line is known; the column is where in it.
      const [column, problem] = jsonSyntaxError(line, error);
      refuse(file, column ? column.replace(/^line 1/, where) : where, problem);
    }
  });
  return out;
}

function readLine(file: string, where: string, value: unknown): Line {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    refuse(file, where, 'must be a JSON object {id, image, conversations} or {image, problem, solution}');
  }
  const record = value as Record<string, unknown>;
  const image = record.image;
  const names = Array.isArray(image) ? image : [image];
  if (names.length === 0 || !names.every((n) => typeof n === 'string' && n !== '')) {
    refuse(file, where, '"image" must name the image file (or list the image files)');
  }
  let question: unknown;
  let answer: unknown;
  if (Array.isArray(record.conversations)) {
    const turns = record.conversations as Turn[];
    question = turns.find((t) => t?.from === 'human')?.value;
    answer = turns.find((t) => t?.from === 'gpt')?.value;
    if (typeof question !== 'string' || answer === undefined) {
      refuse(
        file,
        where,
        '"conversations" needs a {"from": "human"} turn with text and a {"from": "gpt"} turn',
      );
    }
  } else if ('problem' in record && 'solution' in record) {
    question = record.problem;
    answer = record.solution;
    if (typeof question !== 'string') refuse(file, where, '"problem" must be the question text');
  } else {
    refuse(file, where, 'needs "conversations" (human and gpt turns) or "problem" and "solution"');
  }
  const id = record.id;
  const category = [record.category, record.label].find((c) => typeof c === 'string' && c.trim() !== '');
  return {
    images: names as string[],
    question: question as string,
    answer,
    lineId: typeof id === 'string' || typeof id === 'number' ? String(id) : '',
    accuRewardMethod: typeof record.accu_reward_method === 'string' ? record.accu_reward_method : null,
    category: typeof category === 'string' ? category.trim() : undefined,
  };
}

/**
 * The answer for each image of the line: itself for one image; for several, the elements of an
 * answer that is a list with one element per image (each a box or a detection list); undefined
 * when the answer cannot be split that way.
 */
function perImage(line: Line): unknown[] | undefined {
  if (line.images.length === 1) return [line.answer];
  let list: unknown = line.answer;
  if (typeof list === 'string') {
    const text = (/<answer>([\s\S]*?)<\/answer>/.exec(list)?.[1] ?? list).trim();
    try {
      list = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(list) || list.length !== line.images.length) return undefined;
  const oneImage = (a: unknown) =>
    readRecAnswer(a) !== undefined ||
    a === 'None' ||
    (Array.isArray(a) && a.every((item) => item && typeof item === 'object' && 'bbox_2d' in item));
  return list.every(oneImage) ? list : undefined;
}

/**
 * Lines as the dataset came (each imported line with its own id, categories and
 * accu_reward_method; a REC line for the box it is about), then what has no line: a detection
 * line per image with boxes without an expression (or with no box at all: a "None" line, as
 * before), and a REC line per box with an expression.
 */
export const vlmR1Writer: ExportWriter = {
  write(data, out, options = {}) {
    const file = exportFile(out, 'vlmr1.jsonl', options.force);
    const { resizedSize } = options;
    const inFrame = (image: ExportImage) => {
      const sizes = { image, resized: resizedSize?.(image) };
      return (b: Box) => (sizes.resized ? fromPixelsRounded(b, 'resized', sizes) : b);
    };
    const byId = new Map(data.images.map((image) => [image.id, image]));
    const records: object[] = [];
    const recWritten = new Set<number>();
    const detectionWritten = new Set<number>();
    for (const line of data.lines ?? []) {
      const image = byId.get(line.imageId);
      if (!image) continue; // not in the split exported
      if (line.annotationId === null) {
        const asked = [...(line.categories ?? data.categories)];
        for (const b of image.boxes) if (!b.expression && !asked.includes(b.category)) asked.push(b.category);
        records.push(detectionLine(image, lineIdOf(line), asked, inFrame(image), line.accuRewardMethod));
        detectionWritten.add(image.id);
        continue;
      }
      const box = image.boxes.find((b) => b.id === line.annotationId);
      if (!box?.expression) continue; // the box was deleted, or is no longer a REC item
      records.push(recLine(image, lineIdOf(line), box, inFrame(image), line.accuRewardMethod));
      recWritten.add(box.id!);
    }
    for (const image of data.images) {
      const plain = image.boxes.filter((b) => !b.expression);
      if (!detectionWritten.has(image.id) && (plain.length > 0 || image.boxes.length === 0)) {
        // The workspace's image id: the same image keeps its id from one export to the next.
        records.push(detectionLine(image, image.id, data.categories, inFrame(image), null));
      }
      for (const box of image.boxes) {
        if (box.expression && !(box.id !== undefined && recWritten.has(box.id))) {
          records.push(recLine(image, `rec-${box.id ?? records.length}`, box, inFrame(image), null));
        }
      }
    }
    // One type of id in a file: grpo_jsonl.py builds an Arrow table (Dataset.from_list) of the
    // lines, which refuses a column of numbers and text mixed.
    if (records.some((r) => typeof (r as { id?: unknown }).id === 'string')) {
      for (const r of records as { id?: unknown }[]) if (typeof r.id === 'number') r.id = String(r.id);
    }
    writeFileAtomic(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return { files: [file] };
  },
};

/** An imported id as it was written: a whole number stays a number. */
function lineIdOf(line: ExportLine): string | number {
  return /^(0|[1-9]\d{0,14})$/.test(line.lineId) ? Number(line.lineId) : line.lineId;
}

function detectionLine(
  image: ExportImage,
  id: string | number,
  categories: readonly string[],
  inFrame: (b: Box) => Box,
  accuRewardMethod: string | null,
): object {
  const boxes = image.boxes.filter((b) => !b.expression);
  return withMethod(
    {
      ...(id === '' ? {} : { id }),
      image: image.path,
      conversations: [
        { from: 'human', value: vlmR1Prompt(categories) },
        { from: 'gpt', value: vlmR1Answer(boxes.map((b) => ({ label: b.category, box: inFrame(b.box) }))) },
      ],
    },
    accuRewardMethod,
  );
}

function recLine(
  image: ExportImage,
  id: string | number,
  box: ExportBox,
  inFrame: (b: Box) => Box,
  accuRewardMethod: string | null,
): object {
  return withMethod(
    {
      ...(id === '' ? {} : { id }),
      image: image.path,
      conversations: [
        { from: 'human', value: recPrompt(box.expression!) },
        { from: 'gpt', value: recAnswer(inFrame(box.box)) },
      ],
    },
    accuRewardMethod,
  );
}

function withMethod(record: object, accuRewardMethod: string | null): object {
  return accuRewardMethod === null ? record : { ...record, accu_reward_method: accuRewardMethod };
}
