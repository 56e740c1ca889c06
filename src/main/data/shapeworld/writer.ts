/**
 * A ShapeWorld dataset on disk: `images/000001.png`… and `annotations.json` (COCO ground truth plus
 * a `vrft` block with the generator's arguments and one task item per image). Same arguments, same
 * bytes: keys in a fixed order, no timestamps, and image i drawn from a seed derived from (seed, i),
 * so a dataset of N images is a prefix of one of N + 1.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { boxToCoco } from '../../rewards/frames';
import { encodePng } from '../png';
import { deriveSeed } from './random';
import { sampleTask, type TaskItem, type TaskKind } from './tasks';
import { shapeCategories, type SplitName } from './vocabulary';

export const annotationsFile = 'annotations.json';
/** Bumped when the same seed would write different files (2: classification labels are the shape). */
export const shapeWorldVersion = 2;

export interface ShapeWorldArgs {
  task: TaskKind;
  images: number;
  seed: number;
  out: string;
  width?: number;
  height?: number;
  split: SplitName;
}

export interface ShapeWorldSummary {
  /** The dataset folder, absolute. */
  dir: string;
  images: number;
  objects: number;
  /** Categories with at least one object (the file always lists all 12). */
  categoriesPresent: number;
}

/** COCO category ids: the position in `shapeCategories`, from 1; the same in every dataset. */
export const cocoCategories = shapeCategories.map((c, i) => ({
  id: i + 1,
  name: c.name,
  supercategory: c.split,
}));

export function imageFileName(index: number): string {
  return `images/${String(index).padStart(6, '0')}.png`;
}

export function writeShapeWorld(args: ShapeWorldArgs): ShapeWorldSummary {
  const { task, images, seed, split, width = 128, height = 128 } = args;
  if (!Number.isInteger(images) || images < 1)
    throw new Error(`images must be a positive whole number, got ${images}`);
  const dir = path.resolve(args.out);
  prepareFolder(dir);
  mkdirSync(path.join(dir, 'images'), { recursive: true });

  const categoryId = new Map(cocoCategories.map((c) => [c.name, c.id]));
  const cocoImages: object[] = [];
  const annotations: object[] = [];
  const tasks: object[] = [];
  for (let id = 1; id <= images; id++) {
    const { scene, task: item } = sampleTask(task, deriveSeed(seed, id), { width, height, split });
    const fileName = imageFileName(id);
    writeFileSync(path.join(dir, fileName), encodePng(scene.width, scene.height, scene.rgb));
    cocoImages.push({
      id,
      file_name: fileName,
      width: scene.width,
      height: scene.height,
      description: scene.description,
    });
    for (const o of scene.objects) {
      const bbox = boxToCoco(o.box);
      annotations.push({
        id: annotations.length + 1,
        image_id: id,
        category_id: categoryId.get(o.shape),
        bbox,
        area: bbox[2] * bbox[3],
        iscrowd: 0,
        attributes: { color: o.color, texture: o.texture, size: o.size },
      });
    }
    tasks.push({ image_id: id, ...(item satisfies TaskItem) });
  }

  const rows = (items: readonly object[], indent: string) =>
    items.length === 0
      ? '[]'
      : `[\n${items.map((item) => `${indent}  ${JSON.stringify(item)}`).join(',\n')}\n${indent}]`;
  const text = [
    '{',
    `  "images": ${rows(cocoImages, '  ')},`,
    `  "annotations": ${rows(annotations, '  ')},`,
    `  "categories": ${rows(cocoCategories, '  ')},`,
    '  "vrft": {',
    '    "generator": "shapeworld",',
    `    "version": ${shapeWorldVersion},`,
    `    "task": ${JSON.stringify(task)},`,
    `    "seed": ${JSON.stringify(seed)},`,
    `    "split": ${JSON.stringify(split)},`,
    `    "tasks": ${rows(tasks, '    ')}`,
    '  }',
    '}',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, annotationsFile), text);

  const present = new Set(annotations.map((a) => (a as { category_id: number }).category_id));
  return { dir, images, objects: annotations.length, categoriesPresent: present.size };
}

/**
 * The output folder must be new, empty, or an earlier ShapeWorld dataset — which is replaced
 * whole, so fewer images this time leave no stale ones behind. Anything else is the user's and is
 * left alone.
 */
function prepareFolder(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory())
    throw new UserError('invalid_input', `${dir} is a file: give a folder for --out.`);
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  if (!isShapeWorldFolder(dir)) {
    throw new UserError(
      'conflict',
      `${dir} is not empty and is not a ShapeWorld dataset: choose a new or empty folder.`,
    );
  }
  const imagesDir = path.join(dir, 'images');
  if (existsSync(imagesDir)) {
    for (const name of readdirSync(imagesDir)) {
      if (/^\d{6,}\.png$/.test(name)) rmSync(path.join(imagesDir, name));
    }
  }
  rmSync(path.join(dir, annotationsFile));
}

export function isShapeWorldFolder(dir: string): boolean {
  try {
    const data = JSON.parse(readFileSync(path.join(dir, annotationsFile), 'utf8')) as {
      vrft?: { generator?: unknown };
    };
    return data.vrft?.generator === 'shapeworld';
  } catch {
    return false;
  }
}
