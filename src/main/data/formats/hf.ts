/**
 * Visual-RFT detection data as Hugging Face publishes it: a Dataset or DatasetDict saved with
 * `save_to_disk` (Arrow stream files named by each split's state.json), or parquet files (one, or a
 * folder such as the Hub's data/train-00000-of-00001.parquet). Rows are Visual-RFT records
 * {problem, solution, image}; the image is HF's Image feature ({bytes, path}) or a path.
 *
 * The workspace stores image paths, so embedded bytes are written out to
 * <data dir>/imported/<dataset name>/<sha256>.<ext>, and only once every row has been read: a
 * refused file leaves nothing behind. Each image remembers the split it came from.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImagesByPath, isFile, listFiles, readJsonFile, refuse } from './files';
import { readVisualRftLabel, readVisualRftSolution, visualRftCategory } from './prompts';
import type { DatasetFormat, ReadContext, SourceDataset, SourceImage } from './types';

/** One data file and the split its rows belong to. */
interface DataFile {
  file: string;
  split?: string;
}

const parquetName = /^(.+?)-\d+-of-\d+\.parquet$/i;

/** Whether a folder is a save_to_disk dataset or holds parquet files: what `detectFormat` asks. */
export function looksLikeHf(input: string): boolean {
  if (isFile(input)) return /\.(arrow|parquet)$/i.test(input);
  if (['dataset_dict.json', 'state.json'].some((f) => isFile(path.join(input, f)))) return true;
  return listFiles(input, (name) => name.toLowerCase().endsWith('.parquet')).length > 0;
}

/** The data files of a file or folder, in order, each with its split. */
function dataFiles(input: string): DataFile[] {
  if (statSync(input).isFile()) return [{ file: input, split: splitOfFile(input) }];
  const dict = path.join(input, 'dataset_dict.json');
  if (isFile(dict)) {
    const splits = (readJsonFile(dict) as { splits?: unknown }).splits;
    if (!Array.isArray(splits) || !splits.every((s) => typeof s === 'string')) {
      refuse(dict, 'splits', 'must be a list of split names, as save_to_disk writes it');
    }
    return splits.flatMap((split: string) => savedFiles(path.join(input, split), split));
  }
  if (isFile(path.join(input, 'state.json'))) return savedFiles(input, undefined);
  const files = listFiles(input, (name) => name.toLowerCase().endsWith('.parquet'));
  if (files.length === 0) refuse(input, '', 'holds no dataset_dict.json, state.json or .parquet files');
  return files.map((file) => ({ file, split: splitOfFile(file) }));
}

/** A save_to_disk Dataset folder: its state.json lists the Arrow files. */
function savedFiles(dir: string, split: string | undefined): DataFile[] {
  const stateFile = path.join(dir, 'state.json');
  const state = readJsonFile(stateFile) as { _data_files?: unknown; _split?: unknown };
  const files = state._data_files;
  if (!Array.isArray(files) || files.length === 0) {
    refuse(stateFile, '_data_files', 'must list the Arrow files, as save_to_disk writes it');
  }
  return files.map((entry: unknown, i) => {
    const name = (entry as { filename?: unknown } | null)?.filename;
    if (typeof name !== 'string') refuse(stateFile, `_data_files[${i}].filename`, 'is missing');
    return {
      file: path.join(dir, name),
      split: split ?? (typeof state._split === 'string' ? state._split : undefined),
    };
  });
}

/** train-00000-of-00001.parquet → train; otherwise the name of a split folder (train/x.parquet). */
function splitOfFile(file: string): string | undefined {
  const named = parquetName.exec(path.basename(file))?.[1];
  if (named) return named;
  const parent = path.basename(path.dirname(file));
  return /^(train|test|val|validation|eval)$/i.test(parent) ? parent : undefined;
}

async function readRows(file: string): Promise<Record<string, unknown>[]> {
  if (!isFile(file)) refuse(file, '', 'does not exist, but the dataset lists it');
  if (file.toLowerCase().endsWith('.parquet')) {
    const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
    try {
      // utf8: false keeps the image bytes bytes; columns typed as strings still read as text.
      return await parquetReadObjects({ file: await asyncBufferFromFile(file), utf8: false });
    } catch (error) {
      refuse(file, '', `is not a readable parquet file (${(error as Error).message})`);
    }
  }
  const { tableFromIPC } = await import('apache-arrow');
  try {
    const table = tableFromIPC(readFileSync(file));
    if (table.schema.fields.length === 0) throw new Error('no columns');
    return table.toArray().map((row: { toJSON(): Record<string, unknown> }) => row.toJSON());
  } catch (error) {
    refuse(file, '', `is not an Arrow stream file as save_to_disk writes (${(error as Error).message})`);
  }
}

/** The file extension the bytes' signature says, or undefined for a format vrft does not read. */
function imageExtension(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return '.png';
  if (starts(0xff, 0xd8, 0xff)) return '.jpg';
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP')
    return '.webp';
  return undefined;
}

function hasBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length > 0;
}

/** Rows read so far: images by content or path, and the files to write once all rows are good. */
class HfImages {
  private readonly embedded = new Map<string, SourceImage>();
  private readonly pending = new Map<string, Uint8Array>();
  readonly byPath: ImagesByPath;

  constructor(
    dir: string,
    private readonly outDir: string | undefined,
    imageRoot?: string,
  ) {
    this.byPath = new ImagesByPath(dir, imageRoot);
  }

  /** The image of a row's `image` cell, or undefined when its file is not on disk. */
  get(cell: unknown, file: string, where: string): SourceImage | undefined {
    const record = cell && typeof cell === 'object' && !(cell instanceof Uint8Array) ? cell : undefined;
    const bytes = hasBytes(cell) ? cell : (record as { bytes?: unknown } | undefined)?.bytes;
    if (hasBytes(bytes)) return this.fromBytes(bytes, file, where);
    const name = typeof cell === 'string' ? cell : (record as { path?: unknown } | undefined)?.path;
    if (typeof name === 'string' && name !== '') return this.byPath.get(name, where);
    refuse(file, where, 'holds neither image bytes nor an image path');
  }

  private fromBytes(bytes: Uint8Array, file: string, where: string): SourceImage {
    const ext = imageExtension(bytes);
    if (!ext) refuse(file, where, 'embeds an image that is not PNG, JPEG or WebP');
    if (!this.outDir) throw new Error('assertion: an hf import needs the workspace folder');
    const sha = createHash('sha256').update(bytes).digest('hex');
    const target = path.join(this.outDir, `${sha}${ext}`);
    let image = this.embedded.get(target);
    if (!image) {
      image = { path: target, where: `${path.basename(file)} ${where}`, boxes: [], statedEmpty: true };
      this.embedded.set(target, image);
      this.pending.set(target, bytes);
    }
    return image;
  }

  /** Writes the embedded images (an existing file of the same hash already holds those bytes). */
  writeEmbedded(): string[] {
    if (this.pending.size === 0 || !this.outDir) return [];
    mkdirSync(this.outDir, { recursive: true });
    for (const [target, bytes] of this.pending) if (!isFile(target)) writeFileSync(target, bytes);
    const n = this.pending.size;
    return [
      `${n} image${n === 1 ? ' was' : 's were'} embedded in the dataset and ${n === 1 ? 'was' : 'were'} ` +
        `written to ${this.outDir}, named by content hash: the workspace keeps image paths, so keep that folder`,
    ];
  }

  list(): SourceImage[] {
    return [...this.embedded.values(), ...this.byPath.list()];
  }
}

function readRow(
  row: Record<string, unknown>,
  i: number,
  source: DataFile,
  images: HfImages,
  categories: string[],
): void {
  const { file } = source;
  for (const field of ['problem', 'solution']) {
    if (typeof row[field] !== 'string') refuse(file, `row ${i}, ${field}`, 'is missing or not text');
  }
  const category = visualRftCategory(row.problem as string);
  if (!category) {
    // A classification row (Visual-RFT's few-shot flower, pet, car, aircraft sets): the image's label.
    const label = readVisualRftLabel(row.solution as string);
    if (label === undefined) {
      refuse(
        file,
        `row ${i}, problem`,
        'does not name a category (expected the Visual-RFT detection prompt ' +
          `"Detect all objects belonging to the category '…' in the image…"), nor is the solution a ` +
          'classification answer (<answer>category</answer>)',
      );
    }
    if (!categories.includes(label)) categories.push(label);
    const image = images.get(row.image, file, `row ${i}, image`);
    if (!image) return;
    if (source.split && !image.split) image.split = source.split;
    if (image.label !== undefined && image.label !== label) {
      refuse(
        file,
        `row ${i}, solution`,
        `labels an image "${label}" that an earlier row labels "${image.label}"`,
      );
    }
    image.label = label;
    return;
  }
  const solution = readVisualRftSolution(row.solution as string);
  if ('problem' in solution) refuse(file, `row ${i}, solution`, solution.problem);
  if (!categories.includes(category)) categories.push(category);
  const image = images.get(row.image, file, `row ${i}, image`);
  if (!image) return;
  if (source.split && !image.split) image.split = source.split;
  solution.boxes.forEach((box, k) =>
    image.boxes.push({ category, file, where: `row ${i}, solution box ${k + 1}`, frame: 'norm1000', box }),
  );
}

export const hfFormat: DatasetFormat = {
  async read(input: string, context: ReadContext): Promise<SourceDataset> {
    const files = dataFiles(input);
    const outDir =
      context.dataDir === undefined
        ? undefined
        : path.join(
            context.dataDir,
            'imported',
            (context.datasetName ?? 'dataset').replace(/[\\/:*?"<>|]/g, '_'),
          );
    const images = new HfImages(
      statSync(input).isFile() ? path.dirname(input) : input,
      outDir,
      context.imageRoot,
    );
    const categories: string[] = [];
    for (const [done, source] of files.entries()) {
      const rows = await readRows(source.file);
      const columns = new Set(rows.flatMap((row) => Object.keys(row)));
      const absent = ['image', 'problem', 'solution'].filter((c) => !columns.has(c));
      if (rows.length > 0 && absent.length > 0) {
        refuse(
          source.file,
          '',
          `has no ${absent.join(', ')} column (Visual-RFT rows are {image, problem, solution})`,
        );
      }
      rows.forEach((row, i) => readRow(row, i, source, images, categories));
      context.progress?.(done + 1, files.length);
    }
    const splits = [...new Set(files.map((f) => f.split).filter((s) => s !== undefined))];
    const warnings = [...images.byPath.warnings(), ...images.writeEmbedded()];
    if (splits.length > 0)
      warnings.push(`the file's splits (${splits.join(', ')}) became splits of the dataset`);
    return { categories, images: images.list(), missing: images.byPath.missing(), warnings };
  },
};
