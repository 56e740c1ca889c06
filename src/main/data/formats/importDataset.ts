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
import { UserError } from '../../../shared/errors';
import { addAnnotation } from '../../store/annotations';
import { addCategory } from '../../store/categories';
import { setImageLabel } from '../../store/labels';
import { addSourceLine } from '../../store/sourceLines';
import { createDataset, findDatasetByName } from '../../store/datasets';
import { transaction, type Db } from '../../store/db';
import { addImage } from '../../store/images';
import { createSplit } from '../../store/splits';
import { ImageFileError, probeImage, type ImageProbe } from '../imageFiles';
import { notARegularFile } from './files';
import { planImport, type Plan, type Probed } from './importPlan';
import { checkInputKind, detectFormat, readers } from './registry';
import { cacheThumbnails } from './thumbnails';
import type { ImportFormat, SourceDataset, SourceLineMeta } from './types';

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
