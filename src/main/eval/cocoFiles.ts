/**
 * Checking COCO files a user hands us: ground truth ({images, annotations, categories}) and
 * detection results ([{image_id, category_id, bbox, score}], as pycocotools' loadRes takes).
 * Each problem names the item and field, so the user can find it in the file.
 */
import type { CocoDetection, CocoGt } from './coco';

export class CocoFormatError extends Error {}

function fail(problem: string): never {
  throw new CocoFormatError(problem);
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkBbox(bbox: unknown, where: string): number[] {
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isNumber)) {
    fail(`${where}.bbox must be [x, y, width, height], four finite numbers`);
  }
  if ((bbox[2] as number) < 0 || (bbox[3] as number) < 0)
    fail(`${where}.bbox has a negative width or height`);
  return bbox as number[];
}

function checkId(value: unknown, where: string): number {
  if (!isNumber(value) || !Number.isInteger(value))
    fail(`${where} must be a whole number, got ${JSON.stringify(value)}`);
  return value;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) fail(`"${where}" must be a list`);
  return value;
}

export function checkCocoGt(data: unknown): CocoGt {
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    fail(
      Array.isArray(data)
        ? 'this is a list (a detections file?); ground truth is {"images", "annotations", "categories"}'
        : 'ground truth must be a JSON object with "images", "annotations" and "categories"',
    );
  }
  const record = data as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) if (!(key in record)) fail(`missing "${key}"`);
  list(record.images, 'images').forEach((image, i) =>
    checkId((image as { id?: unknown })?.id, `images[${i}].id`),
  );
  list(record.categories, 'categories').forEach((c, i) =>
    checkId((c as { id?: unknown })?.id, `categories[${i}].id`),
  );
  list(record.annotations, 'annotations').forEach((raw, i) => {
    const a = (raw ?? {}) as Record<string, unknown>;
    const where = `annotations[${i}]`;
    checkId(a.id, `${where}.id`);
    checkId(a.image_id, `${where}.image_id`);
    checkId(a.category_id, `${where}.category_id`);
    checkBbox(a.bbox, where);
    if (a.area !== undefined && !isNumber(a.area)) fail(`${where}.area must be a finite number`);
    if (a.iscrowd !== undefined && ![0, 1, true, false].includes(a.iscrowd as number))
      fail(`${where}.iscrowd must be 0 or 1`);
  });
  return data as CocoGt;
}

export function checkCocoDetections(data: unknown, gt: CocoGt): CocoDetection[] {
  if (!Array.isArray(data)) {
    const looksLikeGt = data && typeof data === 'object' && 'annotations' in data;
    fail(
      `detections must be a JSON list of {image_id, category_id, bbox, score}${looksLikeGt ? ' (this looks like a ground-truth file)' : ''}`,
    );
  }
  const imageIds = new Set(gt.images.map((i) => i.id));
  data.forEach((raw, i) => {
    const d = (raw ?? {}) as Record<string, unknown>;
    const where = `[${i}]`;
    const imageId = checkId(d.image_id, `${where}.image_id`);
    checkId(d.category_id, `${where}.category_id`);
    checkBbox(d.bbox, where);
    if (!isNumber(d.score)) fail(`${where}.score must be a finite number, got ${JSON.stringify(d.score)}`);
    if (!imageIds.has(imageId)) fail(`${where}.image_id ${imageId} is not an image of the ground truth`);
  });
  return data as CocoDetection[];
}
