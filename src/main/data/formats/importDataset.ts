/**
 * Importing a dataset: the format's reader parses the annotation files; every image is read,
 * hashed and measured from its headers (in batches, yielding to the event loop, so progress flows
 * and a cancel is heard); every box becomes original-image pixels; then one transaction writes the
 * dataset. A malformed file, a cancel or a refusal leaves the workspace as it was. Thumbnails are
 * made after the commit: a cache, not part of the dataset.
 *
 * Images are identified by content (sha256): a second copy, within the import, is reported and
 * not inserted; its boxes join the first copy's unless the first already has them.
 *
 * Sizes are the image as displayed, after EXIF orientation: annotation files give boxes on the
 * image their tools showed (COCO tools, browsers and labelling tools all apply the orientation),
 * and the stored width and height are what the boxes are read against.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { clampBox, isDegenerate, type Box, type Size } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import { toPixels, yoloToBox } from '../../rewards/frames';
import { addAnnotation } from '../../store/annotations';
import { addCategory } from '../../store/categories';
import { setImageLabel } from '../../store/labels';
import { addSourceLine } from '../../store/sourceLines';
import { createDataset, findDatasetByName } from '../../store/datasets';
import { transaction, type Db } from '../../store/db';
import { addImage } from '../../store/images';
import { createSplit } from '../../store/splits';
import { ImageFileError, probeImage, type ImageProbe } from '../imageFiles';
import { notARegularFile, refuse } from './files';
import { checkInputKind, detectFormat, readers } from './registry';
import { cacheThumbnails } from './thumbnails';
import type { ImportFormat, SourceBox, SourceDataset, SourceImage, SourceLineMeta } from './types';

export interface ImportProgress {
  phase: 'reading' | 'hashing' | 'writing' | 'thumbnails';
  done: number;
  total: number;
}

export interface ImportOptions {
  path: string;
  datasetName: string;
  format: ImportFormat | 'auto';
  /** The workspace folder: thumbnails go to <dataDir>/thumbnails/<sha256>.png. */
  dataDir: string;
  /** The folder the file's image names are relative to (`--images`), tried first. */
  imageRoot?: string;
  onProgress?(progress: ImportProgress): void;
  signal?: AbortSignal;
}

export interface ImportReport {
  datasetId: number;
  format: ImportFormat;
  images: number;
  /** Boxes written, crowd boxes included. */
  annotations: number;
  categories: number;
  /** Boxes with a referring expression or question (REC, LISA). */
  expressions: number;
  /** Images given an image-level category (classification). */
  labels: number;
  /** Boxes kept as crowd regions (COCO iscrowd). */
  crowd: number;
  /** Lines of the file left out, each with why. */
  skippedLines: { where: string; reason: string }[];
  duplicates: { path: string; sameAs: string }[];
  skipped: { path: string; reason: string }[];
  warnings: string[];
}

interface PlannedImage {
  path: string;
  sha256: string;
  width: number;
  height: number;
  negative: boolean;
  statedEmpty: boolean;
  boxes: PlannedBox[];
  label?: string;
  /** Lines about the whole image. */
  lines: SourceLineMeta[];
  /** The splits the file puts it in (a copy may sit in another). */
  splits: string[];
}

interface PlannedBox {
  category: string;
  box: Box;
  expression: string;
  crowd: boolean;
  /** The lines this box answers (a REC line; a copy of the image may bring the same line twice). */
  lines: SourceLineMeta[];
}

interface Plan {
  categories: string[];
  images: PlannedImage[];
  duplicates: ImportReport['duplicates'];
  skipped: ImportReport['skipped'];
  warnings: string[];
}

type Probed = Map<string, ImageProbe | { error: string }>;

/** Images read at once: enough to keep the disk busy, few enough to keep memory flat. */
const batchSize = 32;

export async function importDataset(db: Db, options: ImportOptions): Promise<ImportReport> {
  const name = options.datasetName.trim();
  if (name === '') throw new UserError('invalid_input', 'A dataset needs a name: type one in.');
  if (findDatasetByName(db, name)) {
    throw new UserError('conflict', `A dataset named "${name}" already exists: pick another name.`);
  }
  const input = path.resolve(options.path);
  const format = options.format === 'auto' ? detectFormat(input) : options.format;
  checkInputKind(input, format);
  const progress = options.onProgress ?? (() => undefined);
  const { signal } = options;

  const source = await readers[format].read(input, {
    signal,
    dataDir: options.dataDir,
    datasetName: name,
    imageRoot: options.imageRoot && path.resolve(options.imageRoot),
    progress: (done, total) => progress({ phase: 'reading', done, total }),
  });
  throwIfCancelled(signal);
  const probed = await probeAll(source, signal, progress);
  throwIfCancelled(signal);
  const plan = planImport(input, source, probed);

  progress({ phase: 'writing', done: 0, total: 1 });
  const datasetId = writeDataset(db, name, `Imported from ${input} (${format})`, plan);
  progress({ phase: 'writing', done: 1, total: 1 });
  const thumbnailWarnings = await cacheThumbnails(plan.images, options.dataDir, signal, (done, total) =>
    progress({ phase: 'thumbnails', done, total }),
  );

  const boxes = plan.images.flatMap((image) => image.boxes);
  return {
    datasetId,
    format,
    images: plan.images.length,
    annotations: boxes.length,
    categories: plan.categories.length,
    expressions: boxes.filter((b) => b.expression !== '').length,
    labels: plan.images.filter((image) => image.label !== undefined).length,
    crowd: boxes.filter((b) => b.crowd).length,
    skippedLines: source.skippedLines ?? [],
    duplicates: plan.duplicates,
    skipped: plan.skipped,
    warnings: [...plan.warnings, ...thumbnailWarnings],
  };
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new UserError('cancelled', 'The import was cancelled: nothing was imported.');
}

/** Reads, hashes and measures every image once, a batch at a time. */
async function probeAll(
  source: SourceDataset,
  signal: AbortSignal | undefined,
  progress: (p: ImportProgress) => void,
): Promise<Probed> {
  const paths = [...new Set(source.images.map((image) => image.path))];
  const probed: Probed = new Map();
  progress({ phase: 'hashing', done: 0, total: paths.length });
  for (let start = 0; start < paths.length; start += batchSize) {
    throwIfCancelled(signal);
    const batch = paths.slice(start, start + batchSize);
    const results = await Promise.all(batch.map(probeFile));
    batch.forEach((file, i) => probed.set(file, results[i]!));
    progress({ phase: 'hashing', done: Math.min(start + batchSize, paths.length), total: paths.length });
  }
  return probed;
}

async function probeFile(file: string): Promise<ImageProbe | { error: string }> {
  const problem = notARegularFile(file);
  if (problem) return { error: `${problem}: skipped` };
  try {
    return probeImage(await readFile(file));
  } catch (error) {
    if (error instanceof ImageFileError) return { error: error.message };
    const code = (error as NodeJS.ErrnoException).code;
    if (code) return { error: `cannot be read (${code})` };
    throw error;
  }
}

/** Decides every row before anything is written: duplicates, skips, boxes in pixels. */
function planImport(input: string, source: SourceDataset, probed: Probed): Plan {
  const plan: Plan = {
    categories: [...source.categories],
    images: [],
    duplicates: [],
    skipped: [...source.missing],
    warnings: [...source.warnings],
  };
  const bySha = new Map<string, PlannedImage>();
  const notes: Notes = { clamped: [], sizes: [] };
  for (const image of source.images) {
    const probe = probed.get(image.path)!;
    if ('error' in probe) {
      plan.skipped.push({ path: image.path, reason: probe.error });
      continue;
    }
    const planned = planImage(image, probe, notes);
    const first = bySha.get(planned.sha256);
    if (first) {
      plan.duplicates.push({ path: image.path, sameAs: first.path });
      for (const b of planned.boxes) {
        const same = first.boxes.find((f) => sameBox(f, b));
        if (same) same.lines.push(...b.lines);
        else first.boxes.push(b);
      }
      first.statedEmpty ||= planned.statedEmpty;
      first.lines.push(...planned.lines);
      if (first.label === undefined) first.label = planned.label;
      else if (planned.label !== undefined && planned.label !== first.label) {
        plan.warnings.push(
          `${image.path} is labelled "${planned.label}" (${image.where}) but its copy ${first.path} ` +
            `"${first.label}": the copy's label was kept`,
        );
      }
      for (const split of planned.splits) if (!first.splits.includes(split)) first.splits.push(split);
    } else {
      bySha.set(planned.sha256, planned);
      plan.images.push(planned);
    }
  }
  if (plan.images.length === 0) noImages(input, plan);
  const known = new Set(plan.categories);
  for (const image of plan.images) {
    // A labelled image is about its class, not an image stated to hold no objects.
    image.negative = image.statedEmpty && image.boxes.length === 0 && image.label === undefined;
    const named = image.boxes.map((b) => b.category);
    if (image.label !== undefined) named.push(image.label);
    for (const category of named) {
      if (!known.has(category)) plan.categories.push(category);
      known.add(category);
    }
  }
  if (notes.clamped.length > 0) {
    const n = notes.clamped.length;
    plan.warnings.push(
      `${n} box${n === 1 ? '' : 'es'} reached outside the image and ${n === 1 ? 'was' : 'were'} ` +
        `clamped to its edges (the first: ${notes.clamped[0]})`,
    );
  }
  plan.warnings.push(...summarise(notes.sizes, 'more images whose stated size differs'));
  return plan;
}

/** What planning noticed along the way, reported as warnings. */
interface Notes {
  clamped: string[];
  sizes: string[];
}

/** One image as it will be written: its size as shown and its boxes in pixels of that size. */
function planImage(image: SourceImage, probe: ImageProbe, notes: Notes): PlannedImage {
  const size = { width: probe.displayWidth, height: probe.displayHeight };
  const declared = image.declaredSize;
  if (declared && (declared.width !== size.width || declared.height !== size.height)) {
    notes.sizes.push(
      `${image.where} says ${declared.width}×${declared.height} but ${image.path} shows ` +
        `${size.width}×${size.height}${probe.orientation > 1 ? ' (EXIF-rotated)' : ''}: ` +
        'boxes are read on the image as shown',
    );
  }
  const boxes = image.boxes.map((b) => {
    const { box, wasClamped } = pixelBox(b, size);
    if (wasClamped) notes.clamped.push(`${b.file}, ${b.where}`);
    return {
      category: b.category,
      box,
      expression: (b.expression ?? '').replace(/\s+/g, ' ').trim(),
      crowd: b.crowd === true,
      lines: b.line ? [b.line] : [],
    };
  });
  return {
    path: image.path,
    sha256: probe.sha256,
    ...size,
    negative: false,
    statedEmpty: image.statedEmpty,
    boxes,
    label: image.label,
    lines: [...(image.lines ?? [])],
    splits: image.split === undefined ? [] : [image.split],
  };
}

function noImages(input: string, plan: Plan): never {
  const first = plan.skipped[0];
  throw new UserError(
    'invalid_input',
    first
      ? `None of the ${plan.skipped.length} images of ${input} could be imported (${first.path}: ` +
          `${first.reason}): check that the image files are where the annotation file says.`
      : `${input} names no images: nothing was imported.`,
  );
}

/** The box in pixels of the image as shown, clamped to it; a box with no area left is refused. */
function pixelBox(b: SourceBox, size: Size): { box: Box; wasClamped: boolean } {
  const box =
    b.frame === 'yolo'
      ? yoloToBox(b.cxcywh, size)
      : b.frame === 'norm1000'
        ? toPixels(b.box, 'norm1000', { image: size })
        : b.box;
  // A box a little past an edge (rounding, a sloppy drawing) is clamped; one beyond the image by
  // more than the image itself is in another frame or nonsense (1e308), and clamping would invent it.
  const far =
    ![box.x1, box.y1, box.x2, box.y2].every(Number.isFinite) ||
    Math.min(box.x1, box.x2) < -size.width ||
    Math.max(box.x1, box.x2) > 2 * size.width ||
    Math.min(box.y1, box.y2) < -size.height ||
    Math.max(box.y1, box.y2) > 2 * size.height;
  if (far) {
    const shown = [box.x1, box.y1, box.x2, box.y2].map((v) => Number(v.toPrecision(6))).join(', ');
    refuse(
      b.file,
      b.where,
      `the box [${shown}] (pixels, x1 y1 x2 y2) lies far outside the ${size.width}×${size.height} image: ` +
        'check the coordinate frame the file uses',
    );
  }
  const inside = clampBox(box, size);
  if (isDegenerate(inside)) {
    const shown = [box.x1, box.y1, box.x2, box.y2].map((v) => Number(v.toFixed(2))).join(', ');
    refuse(
      b.file,
      b.where,
      `the box [${shown}] (pixels, x1 y1 x2 y2) has no area inside the ${size.width}×${size.height} image`,
    );
  }
  const wasClamped =
    inside.x1 !== box.x1 || inside.y1 !== box.y1 || inside.x2 !== box.x2 || inside.y2 !== box.y2;
  return { box: inside, wasClamped };
}

function sameBox(a: PlannedBox, b: PlannedBox): boolean {
  return (
    a.category === b.category &&
    a.expression === b.expression &&
    a.crowd === b.crowd &&
    a.box.x1 === b.box.x1 &&
    a.box.y1 === b.box.y1 &&
    a.box.x2 === b.box.x2 &&
    a.box.y2 === b.box.y2
  );
}

/** The first few of a long list of warnings, and how many more there were. */
function summarise(warnings: string[], more: string, keep = 5): string[] {
  if (warnings.length <= keep) return warnings;
  return [...warnings.slice(0, keep), `…and ${warnings.length - keep} ${more}`];
}

function writeDataset(db: Db, name: string, description: string, plan: Plan): number {
  return transaction(db, () => {
    const dataset = createDataset(db, { name, description });
    const categoryIds = new Map(
      plan.categories.map((category) => [
        category,
        addCategory(db, { datasetId: dataset.id, name: category }).id,
      ]),
    );
    const splits = new Map<string, number[]>();
    const lines: { line: SourceLineMeta; imageId: number; annotationId: number | null }[] = [];
    for (const image of plan.images) {
      const imageId = addImage(db, {
        datasetId: dataset.id,
        path: image.path,
        sha256: image.sha256,
        width: image.width,
        height: image.height,
        negative: image.negative,
      });
      for (const b of image.boxes) {
        const annotationId = addAnnotation(db, {
          imageId,
          categoryId: categoryIds.get(b.category)!,
          box: b.box,
          expression: b.expression,
          crowd: b.crowd,
          source: 'human',
        });
        for (const line of b.lines) lines.push({ line, imageId, annotationId });
      }
      for (const line of image.lines) lines.push({ line, imageId, annotationId: null });
      if (image.label !== undefined) setImageLabel(db, imageId, categoryIds.get(image.label)!);
      for (const split of image.splits) splits.set(split, [...(splits.get(split) ?? []), imageId]);
    }
    // In the file's order, whichever image each belongs to: an export writes them back in it.
    lines.sort((a, b) => a.line.index - b.line.index);
    for (const { line, imageId, annotationId } of lines) {
      const { format, lineId, categories, accuRewardMethod } = line;
      addSourceLine(db, { imageId, annotationId, format, lineId, categories, accuRewardMethod });
    }
    // The file's own splits (a DatasetDict's train and test): its train split trains, the rest evaluate.
    for (const [split, imageIds] of splits) {
      createSplit(db, {
        datasetId: dataset.id,
        name: split,
        kind: /^train/i.test(split) ? 'train' : 'eval',
        spec: { from: 'import' },
        imageIds,
      });
    }
    return dataset.id;
  });
}
