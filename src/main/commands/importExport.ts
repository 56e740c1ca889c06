/** `vrft import` and `vrft export`: datasets in and out of a workspace, in other tools' formats. */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import {
  exportDataset,
  exportFormats,
  importDataset,
  importFormats,
  type ExportFormat,
  type ImportProgress,
  type ImportReport,
} from '../data/formats';
import { defaultDataDir } from '../host/paths';
import { findDatasetByName } from '../store/datasets';
import { damaged, openStore, workspaceDbPath } from '../store/db';
import { findSplit } from '../store/splits';
import { inWorkspace, oneOf, requiredString, UsageError, type Command, type Values } from './command';

/** Exit status of an import stopped with Ctrl+C (128 + SIGINT, as shells report it). */
const cancelledStatus = 130;

function dataDirOf(values: Values): string {
  return path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
}

/**
 * Progress on stderr: one line rewritten in place on a terminal; otherwise a line per phase and
 * per tenth of it, so a log stays short.
 */
export function progressPrinter(stream: NodeJS.WriteStream): {
  update(p: ImportProgress): void;
  end(): void;
} {
  let shown = false;
  let last = { phase: '', tenth: -1 };
  return {
    update({ phase, done, total }) {
      const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
      const line = `${phase}: ${done}/${total} (${percent}%)`;
      if (stream.isTTY) {
        stream.write(`\r\x1b[K${line}`);
        shown = true;
        return;
      }
      const tenth = Math.floor(percent / 10);
      if (phase !== last.phase || tenth > last.tenth) stream.write(`${line}\n`);
      last = { phase, tenth };
    },
    end() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function importSummary(report: ImportReport, name: string, source: string, dataDir: string): string {
  const lines = [
    `imported ${source} (${report.format}) as dataset "${name}" (id ${report.datasetId}) into ${dataDir}: ` +
      `${count(report.images, 'image', 'images')}, ${count(report.annotations, 'box', 'boxes')}, ` +
      count(report.categories, 'category', 'categories') +
      (report.expressions > 0 ? `, ${count(report.expressions, 'expression', 'expressions')}` : '') +
      (report.labels > 0 ? `, ${count(report.labels, 'image label', 'image labels')}` : '') +
      (report.crowd > 0 ? `, ${count(report.crowd, 'crowd box', 'crowd boxes')} (iscrowd)` : ''),
  ];
  if (report.duplicates.length > 0) {
    lines.push(
      `${count(report.duplicates.length, 'duplicate', 'duplicates')} (same content, imported once):`,
    );
    for (const d of report.duplicates) lines.push(`  ${d.path} = ${d.sameAs}`);
  }
  if (report.skipped.length > 0) {
    lines.push(`${report.skipped.length} skipped:`);
    for (const s of report.skipped) lines.push(`  ${s.path}: ${s.reason}`);
  }
  if (report.skippedLines.length > 0) {
    lines.push(`${count(report.skippedLines.length, 'line', 'lines')} of the file skipped:`);
    for (const s of report.skippedLines) lines.push(`  ${s.where}: ${s.reason}`);
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function isFolder(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

async function runImport(values: Values, positionals: string[]): Promise<number> {
  const source = positionals[0];
  if (!source) throw new UsageError(`name the folder or file to import (usage: ${importCommand.usage})`);
  const name = requiredString(values, 'dataset').trim();
  const format = oneOf(values, 'format', ['auto', ...importFormats] as const, 'auto');
  const imageRoot = typeof values.images === 'string' ? path.resolve(values.images) : undefined;
  if (imageRoot !== undefined && !isFolder(imageRoot))
    throw new UsageError(
      `--images ${imageRoot} is not a folder: name the folder the file's image paths start from`,
    );
  if (imageRoot !== undefined && ['folder', 'yolo', 'voc', 'lisa'].includes(format))
    throw new UsageError(
      `--images is for files that name their images (coco, visualrft, vlmr1, hf), not ${format}`,
    );
  const dataDir = dataDirOf(values);
  const db = openStore(workspaceDbPath(dataDir));
  // Ctrl+C asks the import to stop (it then writes nothing); a second one leaves at once.
  const controller = new AbortController();
  const onInterrupt = () => (controller.signal.aborted ? process.exit(cancelledStatus) : controller.abort());
  process.on('SIGINT', onInterrupt);
  const progress = progressPrinter(process.stderr);
  try {
    const report = await importDataset(db, {
      path: source,
      datasetName: name,
      format,
      dataDir,
      imageRoot,
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
    });
    progress.end();
    process.stdout.write(
      values.json === true
        ? `${JSON.stringify(report, null, 2)}\n`
        : importSummary(report, name, path.resolve(source), dataDir),
    );
    return 0;
  } catch (error) {
    progress.end();
    if (error instanceof UserError && error.code === 'cancelled') {
      process.stderr.write(`vrft: ${error.message}\n`);
      return cancelledStatus;
    }
    // A bad file, a taken name, a missing path: the user's to fix, one line, exit 2.
    if (error instanceof UserError) throw new UsageError(error.message);
    throw damaged(workspaceDbPath(dataDir), error) ?? error;
  } finally {
    process.off('SIGINT', onInterrupt);
    db.close();
  }
}

/** The flags only one format has, refused with any other rather than silently ignored. */
function formatOptions(values: Values, format: ExportFormat) {
  const only = (flag: string, owner: ExportFormat) => {
    if (values[flag] !== undefined && format !== owner)
      throw new UsageError(`--${flag} is for --format ${owner} only, not ${format}`);
  };
  only('negatives', 'visualrft');
  only('task', 'visualrft');
  only('frame', 'vlmr1');
  only('model', 'vlmr1');
  const frame = oneOf(values, 'frame', ['pixels', 'resized'] as const, 'pixels');
  const model = typeof values.model === 'string' ? path.resolve(values.model) : undefined;
  if (model !== undefined && frame !== 'resized')
    throw new UsageError("--model sets the resized input's size: give it with --frame resized");
  const task = oneOf(values, 'task', ['detection', 'classification'] as const, 'detection');
  if (task === 'classification' && values.negatives === true)
    throw new UsageError("--negatives writes detection 'No Objects' records: not with --task classification");
  return { negatives: values.negatives === true, frame, model, task };
}

async function runExport(values: Values): Promise<number> {
  const name = requiredString(values, 'dataset').trim();
  const format = oneOf(values, 'format', exportFormats);
  const options = formatOptions(values, format);
  const out = path.resolve(requiredString(values, 'out'));
  const dataDir = dataDirOf(values);
  if (!existsSync(workspaceDbPath(dataDir)))
    throw new UsageError(`there is no workspace in ${dataDir} (--data)`);
  return inWorkspace(dataDir, async (db) => {
    const dataset = findDatasetByName(db, name);
    if (!dataset) throw new UsageError(`there is no dataset named "${name}" in ${dataDir}`);
    const splitName = typeof values.split === 'string' ? values.split : undefined;
    const split = splitName === undefined ? undefined : findSplit(db, dataset.id, splitName);
    if (splitName !== undefined && !split)
      throw new UsageError(`dataset "${name}" has no split named "${splitName}"`);
    const force = values.force === true;
    const result = exportDataset(db, {
      datasetId: dataset.id,
      splitId: split?.id,
      format,
      out,
      force,
      ...options,
    });
    if (options.negatives)
      process.stderr.write(
        "warning: the 'No Objects' records are scored 0 whatever the answer by upstream Visual-RFT " +
          '(its grpo.py parses the solution to None), so training there they add cost and no signal; ' +
          "vrft's own trainer does score them\n",
      );
    if (result.crowdLeftOut > 0)
      process.stderr.write(
        `warning: ${count(result.crowdLeftOut, 'crowd box was', 'crowd boxes were')} left out: ` +
          `only --format coco can mark a crowd region (iscrowd)\n`,
      );
    process.stdout.write(
      `exported ${count(result.images, 'image', 'images')} and ${count(result.annotations, 'box', 'boxes')} ` +
        `of "${name}"${split ? ` (split "${split.name}")` : ''} as ${format}: ` +
        `${count(result.files.length, 'file', 'files')} at ${out}\n`,
    );
    return 0;
  });
}

export const importCommand: Command = {
  summary: 'import a folder of images, or COCO / YOLO / VOC / Visual-RFT / VLM-R1 / LISA data, as a dataset',
  usage:
    `vrft import PATH --dataset NAME [--format auto|${importFormats.join('|')}] [--images DIR] ` +
    '[--data DIR] [--json]',
  flags: {
    dataset: { type: 'string' },
    images: { type: 'string' },
    format: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 1,
  run: runImport,
};

export const exportCommand: Command = {
  summary: 'export a dataset (or one split) as COCO, YOLO, VOC, Visual-RFT, VLM-R1 or LISA data',
  usage:
    `vrft export --dataset NAME [--split S] --format ${exportFormats.join('|')} --out PATH ` +
    '[--task detection|classification] [--negatives] (visualrft) [--frame pixels|resized [--model DIR] (vlmr1)] ' +
    '[--force] [--data DIR]',
  flags: {
    dataset: { type: 'string' },
    split: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    negatives: { type: 'boolean' },
    task: { type: 'string' },
    frame: { type: 'string' },
    model: { type: 'string' },
    force: { type: 'boolean' },
    data: { type: 'string' },
  },
  run: runExport,
};
