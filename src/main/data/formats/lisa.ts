/**
 * LISA's ReasonSeg (Lai et al. 2024): a folder of images, each with a labelme-style JSON of the
 * same stem, {"text": [question, …], "is_sentence": bool, "shapes": [{"label": "target" |
 * "ignore", "points": [[x, y], …], "shape_type": "polygon" | "rectangle"}]} in pixels of the image.
 * vrft grounds with boxes, not masks: each question becomes one box, the bounds of every target
 * shape together, with the question as its expression; "ignore" shapes are left out.
 *
 * The export writes that shape back: a JSON per image (its questions and one rectangle per box),
 * named by the image's stem, the image named by labelme's imagePath (absolute: the images are not
 * copied); boxes of one image with different places go to stem__2.json, … .
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { isFile, isImageFile, listFiles, readJsonFile, refuse, uniqueStems } from './files';
import { exportFolder } from '../safeWrite';
import type { DatasetFormat, ExportBox, ExportWriter, SourceImage } from './types';

/** The category LISA's boxes are filed under (its shapes' own label). */
export const lisaCategory = 'target';

interface Shape {
  label?: unknown;
  points?: unknown;
}

/** Whether parsed JSON has the shape of a LISA annotation ({text, shapes}). */
export function isLisaAnnotation(data: unknown): boolean {
  return !!data && typeof data === 'object' && 'shapes' in data && 'text' in data;
}

export const lisaFormat: DatasetFormat = {
  async read(dir, context) {
    const jsons = listFiles(dir, (name) => name.toLowerCase().endsWith('.json'));
    const imageFiles = new Map<string, string>();
    for (const file of listFiles(dir, isImageFile)) {
      imageFiles.set(path.join(path.dirname(file), path.parse(file).name), file);
    }
    const images = new Map<string, SourceImage>();
    const missing: { path: string; reason: string }[] = [];
    jsons.forEach((file, n) => {
      context.progress?.(n, jsons.length);
      const data = readJsonFile(file);
      if (!isLisaAnnotation(data)) {
        refuse(
          file,
          '',
          'is not a LISA annotation ({"text": [question, …], "shapes": [{"label", "points"}]})',
        );
      }
      const record = data as { text: unknown; shapes: unknown; imagePath?: unknown };
      const questions = (Array.isArray(record.text) ? record.text : [record.text]) as unknown[];
      if (!questions.every((q) => typeof q === 'string')) refuse(file, 'text', 'must be a list of questions');
      if (!Array.isArray(record.shapes)) refuse(file, 'shapes', 'must be a list of shapes');
      const box = targetBounds(file, record.shapes as Shape[]);
      const stem = path.join(path.dirname(file), path.parse(file).name);
      // The same-stem image beside it (LISA's layout), else labelme's imagePath (vrft's export
      // names the image there, since it writes the annotations without copying the images).
      const named =
        typeof record.imagePath === 'string' && record.imagePath !== ''
          ? path.resolve(path.dirname(file), record.imagePath)
          : undefined;
      const imageFile =
        imageFiles.get(stem) ??
        imageFiles.get(stem.replace(/__\d+$/, '')) ??
        (named !== undefined && isFile(named) ? named : undefined);
      if (!imageFile) {
        missing.push({
          path: `${stem}.jpg`,
          reason: `no image of the same name beside ${path.basename(file)}`,
        });
        return;
      }
      let image = images.get(imageFile);
      if (!image) {
        image = { path: imageFile, where: path.basename(file), boxes: [], statedEmpty: true };
        images.set(imageFile, image);
      }
      if (!box) return; // only "ignore" shapes: nothing to ground
      for (const [q, question] of (questions as string[]).entries()) {
        if (question.trim() === '') continue;
        image.boxes.push({
          category: lisaCategory,
          file,
          where: `text[${q}]`,
          frame: 'pixels',
          box,
          expression: question,
        });
      }
    });
    // An image without an annotation file is imported unlabelled, and said so.
    const warnings: string[] = [];
    const unannotated = [...imageFiles.values()].filter((file) => !images.has(file));
    for (const file of unannotated)
      images.set(file, { path: file, where: path.basename(file), boxes: [], statedEmpty: false });
    if (unannotated.length > 0) {
      const n = unannotated.length;
      warnings.push(
        `${n} image${n === 1 ? ' has' : 's have'} no LISA annotation of the same name (the first: ` +
          `${unannotated[0]}): imported without boxes, to be labelled`,
      );
    }
    return { categories: [lisaCategory], images: [...images.values()], missing, warnings };
  },
};

/** The bounds of every shape not labelled "ignore", or undefined when there is none. */
function targetBounds(file: string, shapes: Shape[]): Box | undefined {
  let box: Box | undefined;
  shapes.forEach((shape, i) => {
    if (shape?.label === 'ignore') return;
    const points = shape?.points;
    if (
      !Array.isArray(points) ||
      points.length === 0 ||
      !points.every(
        (p) =>
          Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v)),
      )
    ) {
      refuse(file, `shapes[${i}].points`, 'must be a list of [x, y] points');
    }
    for (const [x, y] of points as [number, number][]) {
      box = box
        ? {
            x1: Math.min(box.x1, x),
            y1: Math.min(box.y1, y),
            x2: Math.max(box.x2, x),
            y2: Math.max(box.y2, y),
          }
        : { x1: x, y1: y, x2: x, y2: y };
    }
  });
  return box;
}

export const lisaWriter: ExportWriter = {
  write(data, out, options = {}) {
    const stems = uniqueStems(data.images.map((image) => image.path));
    let images = 0;
    const ownFile = (name: string) => name.endsWith('.json');
    const files = exportFolder(out, { force: options.force, ownFile }, (dir) => {
      const written: string[] = [];
      data.images.forEach((image, i) => {
        // One file per place: LISA's questions of one file all name the same target.
        const places = new Map<string, ExportBox[]>();
        for (const b of image.boxes) {
          if (!b.expression) continue;
          const key = [b.box.x1, b.box.y1, b.box.x2, b.box.y2].join(',');
          places.set(key, [...(places.get(key) ?? []), b]);
        }
        [...places.values()].forEach((boxes, k) => {
          const { box } = boxes[0]!;
          const file = path.join(dir, `${stems[i]}${k === 0 ? '' : `__${k + 1}`}.json`);
          const record = {
            text: boxes.map((b) => b.expression),
            is_sentence: true,
            shapes: [
              {
                label: lisaCategory,
                points: [
                  [box.x1, box.y1],
                  [box.x2, box.y2],
                ],
                shape_type: 'rectangle',
              },
            ],
            imagePath: image.path,
            imageWidth: image.width,
            imageHeight: image.height,
          };
          writeFileSync(file, `${JSON.stringify(record)}\n`);
          written.push(file);
        });
        if (places.size > 0) images++;
      });
      return written;
    });
    return { files, images };
  },
};
