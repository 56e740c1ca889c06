/**
 * Exporting a dataset, or one of its splits, in another tool's format. Boxes leave in original-
 * image pixels and each writer converts them at that boundary; categories keep their `ord` order.
 * Negative images (and images nobody has labelled yet: no format can say "not looked at") are
 * written as images without boxes.
 */
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { qwenInputSizer } from '../../models';
import { listDatasetAnnotations } from '../../store/annotations';
import { listCategories } from '../../store/categories';
import { getDataset } from '../../store/datasets';
import type { Db } from '../../store/db';
import { listImages } from '../../store/images';
import { listDatasetLabels } from '../../store/labels';
import { listSourceLines } from '../../store/sourceLines';
import { splitDatasetId } from '../../store/splits';
import { listSplitImageIds } from '../../store/splits';
import { refuseWorkspaceFiles } from '../safeWrite';
import { writers } from './registry';
import type { ExportBox, ExportData, ExportFormat, WriteOptions } from './types';
import { vlmR1LineFormat } from './vlmr1';

export interface ExportOptions {
  datasetId: number;
  splitId?: number;
  format: ExportFormat;
  /** A file for coco, visualrft and vlmr1 (a folder gets a default name inside); a folder for yolo and voc. */
  out: string;
  /** Visual-RFT: write the 'No Objects' records too. */
  negatives?: boolean;
  /** VLM-R1: bbox_2d in original pixels (the default) or in Qwen2.5-VL's resized input's. */
  frame?: 'pixels' | 'resized';
  /** With frame 'resized': the Qwen folder whose min/max pixels set the size (else Qwen's defaults). */
  model?: string;
  /** Visual-RFT: detection records (the default), or a classification record per labelled image. */
  task?: 'detection' | 'classification';
  /** Replace an existing file, or a folder of an earlier export (else refused). */
  force?: boolean;
}

export interface ExportResult {
  images: number;
  annotations: number;
  files: string[];
  /** Crowd boxes left out: only COCO can mark a box as a crowd region. */
  crowdLeftOut: number;
}

export function exportDataset(db: Db, options: ExportOptions): ExportResult {
  refuseWorkspaceFiles(options.out, db.name);
  const data = exportData(db, options.datasetId, options.splitId);
  // A crowd region written where a format cannot say so would become one object to find.
  let crowdLeftOut = 0;
  if (options.format !== 'coco') {
    for (const image of data.images) {
      const kept = image.boxes.filter((b) => !b.crowd);
      crowdLeftOut += image.boxes.length - kept.length;
      image.boxes = kept;
    }
  }
  const write: WriteOptions = { negatives: options.negatives, task: options.task, force: options.force };
  if (options.frame === 'resized') write.resizedSize = qwenInputSizer(options.model);
  const { files, images } = writers[options.format].write(data, path.resolve(options.out), write);
  return {
    images: images ?? data.images.length,
    annotations: data.images.reduce((n, image) => n + image.boxes.length, 0),
    files,
    crowdLeftOut,
  };
}

/** The dataset (or split) as every writer takes it. */
export function exportData(db: Db, datasetId: number, splitId?: number): ExportData {
  const dataset = getDataset(db, datasetId);
  if (!dataset)
    throw new UserError('not_found', `Dataset ${datasetId} does not exist (it may have been deleted).`);
  let images = listImages(db, datasetId);
  if (splitId !== undefined) {
    if (splitDatasetId(db, splitId) !== datasetId) {
      throw new UserError(
        'not_found',
        `Split ${splitId} is not a split of dataset "${dataset.name}": reload the splits.`,
      );
    }
    const members = new Set(listSplitImageIds(db, splitId));
    images = images.filter((image) => members.has(image.id));
  }
  const categories = listCategories(db, datasetId);
  const names = new Map(categories.map((c) => [c.id, c.name]));
  const boxes = new Map<number, ExportBox[]>();
  for (const a of listDatasetAnnotations(db, datasetId)) {
    const list = boxes.get(a.imageId) ?? [];
    list.push({
      category: names.get(a.categoryId)!,
      box: { x1: a.x1, y1: a.y1, x2: a.x2, y2: a.y2 },
      id: a.id,
      expression: a.expression,
      crowd: a.crowd,
    });
    boxes.set(a.imageId, list);
  }
  const labels = new Map(listDatasetLabels(db, datasetId).map((l) => [l.imageId, names.get(l.categoryId)!]));
  return {
    datasetName: dataset.name,
    categories: categories.map((c) => c.name),
    images: images.map((image) => ({
      id: image.id,
      path: image.path,
      width: image.width,
      height: image.height,
      boxes: image.negative ? [] : (boxes.get(image.id) ?? []),
      label: labels.get(image.id),
    })),
    lines: listSourceLines(db, datasetId, vlmR1LineFormat).map((line) => ({
      imageId: line.imageId,
      annotationId: line.annotationId,
      lineId: line.lineId,
      categories: line.categories,
      accuRewardMethod: line.accuRewardMethod,
    })),
  };
}
