/**
 * What an imported line said that its boxes and labels do not: the id the file gave it, its own
 * list of categories asked, its accuracy reward (VLM-R1's accu_reward_method). An export to the
 * same format writes each line back from these; images without a line are written as the
 * workspace holds them.
 */
import type { Database } from 'better-sqlite3';
import { prepare } from './db';

export interface SourceLine {
  imageId: number;
  /** The box the line is about (one REC item), or null for a line about the whole image. */
  annotationId: number | null;
  /** The format it was read from ('vlm-r1', …). */
  format: string;
  lineId: string;
  categories: string[] | null;
  accuRewardMethod: string | null;
}

export function addSourceLine(db: Database, line: SourceLine): void {
  prepare(
    db,
    `INSERT INTO source_line (image_id, annotation_id, format, line_id, categories, accu_reward_method)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    line.imageId,
    line.annotationId,
    line.format,
    line.lineId,
    line.categories ? JSON.stringify(line.categories) : null,
    line.accuRewardMethod,
  );
}

/** A dataset's lines read from `format`, in the order they were read. */
export function listSourceLines(db: Database, datasetId: number, format: string): SourceLine[] {
  return prepare<Omit<SourceLine, 'categories'> & { categories: string | null }>(
    db,
    `SELECT s.image_id AS imageId, s.annotation_id AS annotationId, s.format, s.line_id AS lineId,
       s.categories, s.accu_reward_method AS accuRewardMethod
     FROM source_line s JOIN image i ON i.id = s.image_id WHERE i.dataset_id = ? AND s.format = ?
     ORDER BY s.id`,
  )
    .all(datasetId, format)
    .map((row) => ({ ...row, categories: row.categories ? (JSON.parse(row.categories) as string[]) : null }));
}
