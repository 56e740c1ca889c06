/**
 * What every dataset format reads into and writes from. Readers only parse annotation files and
 * find image paths; the importer then hashes and measures the images, turns every box into
 * original-image pixels and writes the lot in one transaction.
 */
import type { Box, Size } from '../../../shared/boxes';

export const importFormats = ['folder', 'coco', 'yolo', 'voc', 'visualrft', 'vlmr1', 'hf', 'lisa'] as const;
export type ImportFormat = (typeof importFormats)[number];

export const exportFormats = ['coco', 'yolo', 'voc', 'visualrft', 'vlmr1', 'lisa'] as const;
export type ExportFormat = (typeof exportFormats)[number];

/**
 * A box as its file wrote it. Pixel and 0–1000 boxes are xyxy; YOLO's are centre and size on 0–1.
 * All become pixels of the image as displayed once its size is known.
 */
export type SourceBox = {
  category: string;
  /** The annotation file and the place in it, for a message if the box must be refused. */
  file: string;
  where: string;
  /** The referring expression or question naming this one box (a REC line, a LISA question). */
  expression?: string;
  /** COCO's iscrowd: a region of many objects. */
  crowd?: boolean;
  /** The line this box is the answer of (a VLM-R1 REC line): kept so an export writes it back. */
  line?: SourceLineMeta;
} & (
  { frame: 'pixels' | 'norm1000'; box: Box } | { frame: 'yolo'; cxcywh: [number, number, number, number] }
);

export interface SourceImage {
  /** Absolute. */
  path: string;
  /** Where the annotation file names the image, for messages ("annotations.json images[3]"). */
  where: string;
  boxes: SourceBox[];
  /** The size the file states (COCO, VOC), checked against the image as displayed. */
  declaredSize?: Size;
  /**
   * The file lists this image and says there is nothing in it (an empty YOLO label file, a VOC
   * file without objects, 'No Objects'): it becomes a negative image if it ends up with no box.
   */
  statedEmpty: boolean;
  /** The split the file puts the image in (a Hugging Face DatasetDict's train, test…). */
  split?: string;
  /** The image-level category (classification data). */
  label?: string;
  /** The lines about the whole image (a VLM-R1 detection line), kept so an export writes them back. */
  lines?: SourceLineMeta[];
}

/** What an imported line says beyond its boxes (store/sourceLines). */
export interface SourceLineMeta {
  /** Its place in the file, so lines are stored in the file's order. */
  index: number;
  format: string;
  lineId: string;
  categories: string[] | null;
  accuRewardMethod: string | null;
}

export interface SourceDataset {
  /** Category names in the order the file gives them: that becomes the dataset's order. */
  categories: string[];
  images: SourceImage[];
  /** Images the annotation file names but that are not on disk. */
  missing: { path: string; reason: string }[];
  warnings: string[];
  /** Lines of the file left out, each with why (reported, never silent). */
  skippedLines?: { where: string; reason: string }[];
}

export interface ReadContext {
  signal?: AbortSignal;
  /** Files read so far, for formats spread over many files. */
  progress?(done: number, total: number): void;
  /** The workspace folder and the new dataset's name: where formats that embed images write them. */
  dataDir?: string;
  datasetName?: string;
  /**
   * The folder the file's image names are relative to, when the user named one (`--images`):
   * VLM-R1's image_folders, COCO's train2014/ beside annotations/. Tried before the file's own folder.
   */
  imageRoot?: string;
}

export interface ExportImage {
  /** The workspace's id for the image: the same in every export. */
  id: number;
  /** Absolute. */
  path: string;
  /** As displayed, which is what the boxes refer to. */
  width: number;
  height: number;
  /** Original-image pixels, xyxy; empty for negative and not-yet-labelled images. */
  boxes: ExportBox[];
  /** The image-level category, if it has one. */
  label?: string;
}

export interface ExportBox {
  category: string;
  box: Box;
  /** The annotation's id (absent for boxes not from the store). */
  id?: number;
  /** Its referring expression, '' or absent for none. */
  expression?: string;
  crowd?: boolean;
}

/** A line the dataset was imported from (VLM-R1), written back by an export to that format. */
export interface ExportLine {
  imageId: number;
  /** The box a REC line is about; null for a line about the whole image. */
  annotationId: number | null;
  lineId: string;
  categories: string[] | null;
  accuRewardMethod: string | null;
}

export interface ExportData {
  datasetName: string;
  /** In `ord` order. */
  categories: string[];
  images: ExportImage[];
  /** The VLM-R1 lines it was imported from, in the file's order (absent or empty: none). */
  lines?: ExportLine[];
}

export interface DatasetFormat {
  read(input: string, context: ReadContext): Promise<SourceDataset>;
}

/** Choices only some formats have; the command refuses them for the others. */
export interface WriteOptions {
  /** Visual-RFT: also write a 'No Objects' record for each category an image has no box of. */
  negatives?: boolean;
  /** VLM-R1: bbox_2d in pixels of the model's resized input, this size per image; absent: original pixels. */
  resizedSize?: (image: Size) => Size;
  /** Visual-RFT: detection records (the default) or one classification record per labelled image. */
  task?: 'detection' | 'classification';
  /** Replace an existing file, or a folder of an earlier export (else both are refused). */
  force?: boolean;
}

export interface WriteResult {
  files: string[];
  /** Images the export holds, when not every image given (records only for some). */
  images?: number;
}

export interface ExportWriter {
  /** Writes the export at `out` (a file or a folder, by format); returns the files written. */
  write(data: ExportData, out: string, options?: WriteOptions): WriteResult;
}
