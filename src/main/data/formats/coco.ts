/**
 * COCO detection ground truth: one JSON file of {images, annotations, categories}, boxes
 * [x, y, width, height] in pixels of the image as displayed. A crowd annotation (iscrowd 1) is
 * kept as a crowd box and written back as one. Image files are found relative to the
 * JSON's folder, or in an images/ folder beside it.
 */
import path from 'node:path';
import { checkCocoGt, CocoFormatError } from '../../eval/cocoFiles';
import { boxToCoco, cocoToBox } from '../../rewards/frames';
import { firstFile, imageCandidates, readJsonFile, refuse, tidyBox } from './files';
import { exportFile, writeFileAtomic } from '../safeWrite';
import type { DatasetFormat, ExportWriter, SourceImage } from './types';

interface CocoImage {
  id: number;
  file_name?: unknown;
  width?: unknown;
  height?: unknown;
}

interface CocoFile {
  images: CocoImage[];
  annotations: { image_id: number; category_id: number; bbox: number[]; iscrowd?: number | boolean }[];
  categories: { id: number; name?: unknown }[];
}

export const cocoFormat: DatasetFormat = {
  async read(file, context) {
    const data = readJsonFile(file);
    try {
      checkCocoGt(data); // ids, bbox shapes and numbers, each problem named by item and field
    } catch (error) {
      if (error instanceof CocoFormatError) refuse(file, '', error.message);
      throw error;
    }
    const coco = data as CocoFile;
    const categories = readCategories(file, coco);
    const dir = path.dirname(file);
    const images = new Map<number, SourceImage>();
    const missing: { path: string; reason: string }[] = [];
    coco.images.forEach((image, i) => {
      const where = `images[${i}]`;
      if (typeof image.file_name !== 'string' || image.file_name.trim() === '') {
        refuse(file, `${where}.file_name`, 'must name the image file');
      }
      if (images.has(image.id)) refuse(file, `${where}.id`, `${image.id} is used by an earlier image too`);
      const name = image.file_name;
      const candidates = imageCandidates(dir, name, context.imageRoot);
      const found = firstFile(candidates);
      if (!found) missing.push({ path: candidates[0]!, reason: `not found (${where}.file_name)` });
      const declared =
        typeof image.width === 'number' && typeof image.height === 'number'
          ? { width: image.width, height: image.height }
          : undefined;
      // A listed image without annotations is one the file says has nothing to find.
      images.set(image.id, {
        path: found ?? '',
        where,
        boxes: [],
        statedEmpty: true,
        declaredSize: declared,
      });
    });
    coco.annotations.forEach((a, i) => {
      const where = `annotations[${i}]`;
      const image = images.get(a.image_id);
      if (!image) refuse(file, `${where}.image_id`, `${a.image_id} is not the id of an image in "images"`);
      const category = categories.get(a.category_id);
      if (category === undefined) {
        refuse(file, `${where}.category_id`, `${a.category_id} is not the id of a category in "categories"`);
      }
      // A crowd region marks many objects at once: kept as such (AP ignores detections on it).
      image.boxes.push({
        crowd: a.iscrowd === 1 || a.iscrowd === true,
        category,
        file,
        where: `${where}.bbox`,
        frame: 'pixels',
        box: tidyBox(cocoToBox(a.bbox)),
      });
    });
    return {
      categories: [...new Set(categories.values())],
      images: [...images.values()].filter((image) => image.path !== ''),
      missing,
      warnings: [],
    };
  },
};

/** Category id → name, in id order (the order COCO tools number classes in). */
function readCategories(file: string, coco: CocoFile): Map<number, string> {
  const byId = new Map<number, string>();
  const names = new Map<string, number>();
  coco.categories.forEach((c, i) => {
    if (typeof c.name !== 'string' || c.name.trim() === '')
      refuse(file, `categories[${i}].name`, 'must be a name');
    const name = c.name.trim();
    if (byId.has(c.id)) refuse(file, `categories[${i}].id`, `${c.id} is used by an earlier category too`);
    if (names.has(name))
      refuse(file, `categories[${i}].name`, `"${name}" is also categories[${names.get(name)}]`);
    byId.set(c.id, name);
    names.set(name, i);
  });
  return new Map([...byId].sort((a, b) => a[0] - b[0]));
}

/**
 * Image file names are relative to the JSON's folder when the image lies inside it (the folder
 * can then move as a whole), absolute otherwise (a path climbing out with ../ breaks as soon as
 * the JSON moves alone).
 */
function fileName(image: string, base: string): string {
  const relative = path.relative(base, image);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative)
    ? image
    : relative.split(path.sep).join('/');
}

export const cocoWriter: ExportWriter = {
  write(data, out, options = {}) {
    const file = exportFile(out, 'annotations.json', options.force);
    const base = path.dirname(path.resolve(file));
    const annotations: object[] = [];
    const images = data.images.map((image, i) => {
      for (const { category, box, crowd } of image.boxes) {
        const bbox = boxToCoco(box);
        annotations.push({
          id: annotations.length + 1,
          image_id: i + 1,
          category_id: data.categories.indexOf(category) + 1,
          bbox,
          area: bbox[2] * bbox[3],
          iscrowd: crowd ? 1 : 0,
        });
      }
      return { id: i + 1, file_name: fileName(image.path, base), width: image.width, height: image.height };
    });
    const categories = data.categories.map((name, i) => ({ id: i + 1, name }));
    writeFileAtomic(file, `${JSON.stringify({ images, annotations, categories })}\n`);
    return { files: [file] };
  },
};
