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
 */
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { fromPixelsRounded } from '../../rewards/frames';
import { exportFile, ImagesByPath, readText, refuse, writeFileAtomic } from './files';
import { readVlmR1Answer, vlmR1Answer, vlmR1Categories, vlmR1Prompt } from './prompts';
import type { DatasetFormat, ExportWriter } from './types';

interface Turn {
  from?: unknown;
  value?: unknown;
}

export const vlmR1Format: DatasetFormat = {
  async read(file) {
    const images = new ImagesByPath(path.dirname(file));
    const categories: string[] = [];
    const add = (name: string) => categories.includes(name) || categories.push(name);
    readText(file)
      .split(/\r?\n/)
      .forEach((text, i) => {
        if (text.trim() === '') return;
        const where = `line ${i + 1}`;
        const { image, human, gpt } = readLine(file, where, text);
        (vlmR1Categories(human) ?? []).forEach(add);
        const answer = readVlmR1Answer(gpt);
        if ('problem' in answer) refuse(file, where, answer.problem);
        const source = images.get(image, where);
        answer.boxes.forEach(({ label, box }, k) => {
          add(label);
          source?.boxes.push({
            category: label,
            file,
            where: `${where}, box ${k + 1}`,
            frame: 'pixels',
            box,
          });
        });
      });
    return { categories, images: images.list(), missing: images.missing(), warnings: images.warnings() };
  },
};

function readLine(file: string, where: string, text: string): { image: string; human: string; gpt: string } {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    refuse(file, where, `not valid JSON (${(error as Error).message})`);
  }
  if (!record || typeof record !== 'object' || Array.isArray(record)) {
    refuse(file, where, 'must be a JSON object {id, image, conversations}');
  }
  let image = record.image;
  if (Array.isArray(image)) {
    if (image.length !== 1) refuse(file, where, 'names several images: split it into one line per image');
    image = image[0];
  }
  if (typeof image !== 'string' || image === '') refuse(file, where, '"image" must name the image file');
  const turns = (Array.isArray(record.conversations) ? record.conversations : []) as Turn[];
  const human = turns.find((t) => t?.from === 'human')?.value;
  const gpt = turns.find((t) => t?.from === 'gpt')?.value;
  if (typeof human !== 'string' || typeof gpt !== 'string') {
    refuse(
      file,
      where,
      '"conversations" needs a {"from": "human"} and a {"from": "gpt"} turn with text values',
    );
  }
  return { image, human, gpt };
}

export const vlmR1Writer: ExportWriter = {
  write(data, out, options = {}) {
    const file = exportFile(out, 'vlmr1.jsonl');
    const prompt = vlmR1Prompt(data.categories);
    const { resizedSize } = options;
    const lines = data.images.map((image) => {
      const sizes = { image, resized: resizedSize?.(image) };
      const box = (b: Box) => (sizes.resized ? fromPixelsRounded(b, 'resized', sizes) : b);
      return JSON.stringify({
        // The workspace's image id: the same image keeps its id from one export to the next.
        id: image.id,
        image: image.path,
        conversations: [
          { from: 'human', value: prompt },
          {
            from: 'gpt',
            value: vlmR1Answer(image.boxes.map((b) => ({ label: b.category, box: box(b.box) }))),
          },
        ],
      });
    });
    writeFileAtomic(file, lines.map((line) => `${line}\n`).join(''));
    return [file];
  },
};
