/** Every format by name, and telling which one a path holds. */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { cocoFormat, cocoWriter } from './coco';
import { isFile, isImageFile, listFiles, readJsonFile } from './files';
import { folderFormat } from './folder';
import { hfFormat, looksLikeHf } from './hf';
import { isLisaAnnotation, lisaFormat, lisaWriter } from './lisa';
import { readRecAnswer } from './prompts';
import type { DatasetFormat, ExportFormat, ExportWriter, ImportFormat } from './types';
import { visualRftFormat, visualRftWriter } from './visualrft';
import { vlmR1Format, vlmR1Writer } from './vlmr1';
import { vocFormat, vocWriter } from './voc';
import { findClassFile, yoloFormat, yoloWriter } from './yolo';

export const readers: Record<ImportFormat, DatasetFormat> = {
  folder: folderFormat,
  coco: cocoFormat,
  yolo: yoloFormat,
  voc: vocFormat,
  visualrft: visualRftFormat,
  vlmr1: vlmR1Format,
  hf: hfFormat,
  lisa: lisaFormat,
};

export const writers: Record<ExportFormat, ExportWriter> = {
  coco: cocoWriter,
  yolo: yoloWriter,
  voc: vocWriter,
  visualrft: visualRftWriter,
  vlmr1: vlmR1Writer,
  lisa: lisaWriter,
};

const folderFormats: readonly ImportFormat[] = ['folder', 'yolo', 'voc', 'lisa'];

function kind(input: string): 'folder' | 'file' {
  try {
    return statSync(input).isDirectory() ? 'folder' : 'file';
  } catch {
    throw new UserError('not_found', `${input} does not exist: check the path.`);
  }
}

/** Refuses a file given for a folder format, or the other way round, before reading anything. */
export function checkInputKind(input: string, format: ImportFormat): void {
  if (format === 'hf') {
    if (!looksLikeHf(input)) {
      throw new UserError(
        'invalid_input',
        `${input} is not a Hugging Face dataset: pick a save_to_disk folder (dataset_dict.json or ` +
          'state.json), a folder of .parquet files, or one .arrow or .parquet file.',
      );
    }
    return;
  }
  const wants = folderFormats.includes(format) ? 'folder' : 'file';
  if (kind(input) !== wants) {
    throw new UserError(
      'invalid_input',
      wants === 'folder'
        ? `${input} is a file, but ${format} imports a folder: pick the folder.`
        : `${input} is a folder, but ${format} imports one annotation file: pick the .json${format === 'vlmr1' ? 'l' : ''} file.`,
    );
  }
}

/**
 * The format of a file or folder:
 * - a folder: voc if it holds .xml files, yolo if it has a class list or a labels/ folder and
 *   .txt label files, lisa if it holds LISA annotation .json files ({text, shapes}), else a
 *   plain folder of images;
 * - .jsonl: vlmr1; .json: coco if an object with "images" and "annotations", visualrft if a list
 *   of {image_path, problem, solution} (or {image, problem, solution} whose solution is not one
 *   box), vlmr1 if a list of VLM-R1 records ({image, conversations}, or a REC {image, problem,
 *   solution: [x1, y1, x2, y2]});
 * - hf: a save_to_disk folder (dataset_dict.json or state.json), a folder with .parquet files, or
 *   one .arrow or .parquet file.
 */
export function detectFormat(input: string): ImportFormat {
  if (kind(input) === 'folder') return looksLikeHf(input) ? 'hf' : detectFolder(input);
  const ext = path.extname(input).toLowerCase();
  if (ext === '.arrow' || ext === '.parquet') return 'hf';
  if (ext === '.jsonl') return 'vlmr1';
  if (ext === '.json') {
    const data = readJsonFile(input);
    if (
      data &&
      typeof data === 'object' &&
      !Array.isArray(data) &&
      'images' in data &&
      'annotations' in data
    ) {
      return 'coco';
    }
    const first = (Array.isArray(data) ? data[0] : undefined) as Record<string, unknown> | undefined;
    if (first && typeof first === 'object') {
      if ('image' in first && 'conversations' in first) return 'vlmr1';
      if (['problem', 'solution'].every((k) => k in first)) {
        if ('image_path' in first) return 'visualrft';
        if ('image' in first) return readRecAnswer(first.solution) ? 'vlmr1' : 'visualrft';
      }
    }
    throw new UserError(
      'invalid_input',
      `${input} is neither COCO ({"images", "annotations", "categories"}) nor Visual-RFT ` +
        '([{"image_path", "problem", "solution"}, …]): pick the format if it is one of them.',
    );
  }
  throw new UserError(
    'invalid_input',
    `${input}: a ${ext || 'file without extension'} is none of the formats vrft reads (a folder of images, ` +
      'YOLO or Pascal VOC; a COCO or Visual-RFT .json; a VLM-R1 .jsonl), nor a Hugging Face dataset ' +
      '(a save_to_disk folder, .arrow or .parquet).',
  );
}

function detectFolder(dir: string): ImportFormat {
  let xml = false;
  let labels = false;
  let images = false;
  let json: string | undefined;
  listFiles(dir, (name) => {
    const lower = name.toLowerCase();
    if (lower.endsWith('.json')) json ??= name;
    if (lower.endsWith('.xml')) xml = true;
    else if (lower.endsWith('.txt') && lower !== 'images.txt' && lower !== 'classes.txt') labels = true;
    else if (isImageFile(name)) images = true;
    return false;
  });
  if (xml) return 'voc';
  const hasLabelsFolder = (() => {
    try {
      return statSync(path.join(dir, 'labels')).isDirectory();
    } catch {
      return false;
    }
  })();
  if (labels && (findClassFile(dir) !== undefined || hasLabelsFolder)) return 'yolo';
  if (json !== undefined && firstJsonIsLisa(dir)) return 'lisa';
  if (images) return 'folder';
  throw new UserError(
    'invalid_input',
    `${dir} holds no images, Pascal VOC .xml files or YOLO labels (looked for folder, voc and yolo): ` +
      'pick the folder that holds the dataset.',
  );
}

function firstJsonIsLisa(dir: string): boolean {
  const first = listFiles(dir, (name) => name.toLowerCase().endsWith('.json'))[0];
  try {
    return first !== undefined && isFile(first) && isLisaAnnotation(JSON.parse(readFileSync(first, 'utf8')));
  } catch {
    return false;
  }
}
