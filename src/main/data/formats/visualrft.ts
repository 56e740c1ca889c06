/**
 * Visual-RFT detection data: a JSON list of {image_path, problem, solution}, one record per
 * (image, category). The problem is the paper's detection prompt naming the category; the
 * solution lists the boxes as integers on 0–1000 of the image as displayed (pixel = v · W / 1000),
 * or says 'No Objects' (written only with `negatives`: see the writer). Records are written one
 * per line so the file diffs and greps well.
 *
 * Classification (Visual-RFT's few-shot flower, pet, car and aircraft sets, grpo_classification.py):
 * a record per image whose solution names its category, <answer>daisy</answer>; read as the
 * image's label. The image may be given as image_path or image.
 */
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { fromPixelsRounded } from '../../rewards/frames';
import { ImagesByPath, readJsonFile, refuse } from './files';
import { exportFile, writeFileAtomic } from '../safeWrite';
import {
  readVisualRftLabel,
  readVisualRftSolution,
  visualRftCategory,
  visualRftClassificationPrompt,
  visualRftPrompt,
  visualRftSolution,
} from './prompts';
import type { DatasetFormat, ExportImage, ExportWriter } from './types';

export const visualRftFormat: DatasetFormat = {
  async read(file, context) {
    const data = readJsonFile(file);
    if (!Array.isArray(data))
      refuse(file, '', 'must be a JSON list of {"image_path", "problem", "solution"}');
    const images = new ImagesByPath(path.dirname(file), context.imageRoot);
    const categories: string[] = [];
    const labelledAt = new Map<string, number>();
    data.forEach((raw: unknown, i) => {
      const record = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      const imageField = typeof record.image_path === 'string' ? 'image_path' : 'image';
      for (const field of [imageField, 'problem', 'solution']) {
        if (typeof record[field] !== 'string') refuse(file, `[${i}].${field}`, 'is missing or not text');
      }
      const category = visualRftCategory(record.problem as string);
      if (!category) {
        const label = readVisualRftLabel(record.solution as string);
        if (label === undefined) {
          refuse(
            file,
            `[${i}].problem`,
            'does not name a category (expected the Visual-RFT detection prompt ' +
              `"Detect all objects belonging to the category '…' in the image…"), nor is the solution a ` +
              'classification answer (<answer>category</answer>)',
          );
        }
        if (!categories.includes(label)) categories.push(label);
        const image = images.get(record[imageField] as string, `[${i}].${imageField}`);
        if (!image) return;
        const earlier = labelledAt.get(image.path);
        if (image.label !== undefined && image.label !== label) {
          refuse(
            file,
            `[${i}].solution`,
            `labels ${image.path} "${label}" but [${earlier}] labels it "${image.label}": one category per image`,
          );
        }
        image.label = label;
        labelledAt.set(image.path, i);
        return;
      }
      const solution = readVisualRftSolution(record.solution as string);
      if ('problem' in solution) refuse(file, `[${i}].solution`, solution.problem);
      if (!categories.includes(category)) categories.push(category);
      const image = images.get(record[imageField] as string, `[${i}].${imageField}`);
      solution.boxes.forEach((box, k) =>
        image?.boxes.push({ category, file, where: `[${i}].solution box ${k + 1}`, frame: 'norm1000', box }),
      );
    });
    return { categories, images: images.list(), missing: images.missing(), warnings: images.warnings() };
  },
};

/**
 * The box on 0–1000, rounded as a model would write it. A box thinner than one unit would round
 * to nothing and be refused on the way back in, so it keeps one unit: within the format's
 * quantisation, like every other box.
 */
function norm1000(box: Box, image: ExportImage): Box {
  const b = fromPixelsRounded(box, 'norm1000', { image });
  const [x1, x2] = atLeastOneUnit(b.x1, b.x2);
  const [y1, y2] = atLeastOneUnit(b.y1, b.y2);
  return { x1, y1, x2, y2 };
}

function atLeastOneUnit(low: number, high: number): [number, number] {
  if (high > low) return [low, high];
  return low < 1000 ? [low, low + 1] : [high - 1, high];
}

/** An image's class: its own label, else the one category all its boxes share. */
export function imageClass(image: ExportImage): string | undefined {
  if (image.label !== undefined) return image.label;
  const named = new Set(image.boxes.map((b) => b.category));
  return named.size === 1 ? [...named][0] : undefined;
}

export const visualRftWriter: ExportWriter = {
  write(data, out, options = {}) {
    const file = exportFile(out, 'visualrft.json', options.force);
    if (options.task === 'classification') {
      const records = data.images.flatMap((image) => {
        const label = imageClass(image);
        if (label === undefined) return [];
        return [
          {
            image_path: image.path,
            problem: visualRftClassificationPrompt(),
            solution: `<answer>${label}</answer>`,
          },
        ];
      });
      writeFileAtomic(file, `[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
      return { files: [file], images: records.length };
    }
    // A record per image and category that has boxes. 'No Objects' records only when asked:
    // upstream's grpo.py parses that solution to None and scores every answer 0, so there they
    // add a constant-0 reward (no signal, only cost); vrft's own trainer does score them.
    const records = data.images.flatMap((image) =>
      data.categories.flatMap((category) => {
        const boxes = image.boxes.filter((b) => b.category === category);
        if (boxes.length === 0 && !options.negatives) return [];
        return [
          {
            image_path: image.path,
            problem: visualRftPrompt(category),
            solution: visualRftSolution(boxes.map((b) => norm1000(b.box, image))),
          },
        ];
      }),
    );
    writeFileAtomic(file, `[\n${records.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
    return { files: [file], images: new Set(records.map((r) => r.image_path)).size };
  },
};
