import path from 'node:path';
import { UserError } from '../../shared/errors';
import { importShapeWorld } from '../data/shapeworld/importer';
import { shapeCategories, type SplitName } from '../data/shapeworld/vocabulary';
import { writeShapeWorld } from '../data/shapeworld/writer';
import { defaultDataDir } from '../host/paths';
import { tasks } from '../rewards/registry';
import { listDatasets } from '../store/datasets';
import { openStore, workspaceDbPath, type Db } from '../store/db';
import { oneOf, requiredString, UsageError, type Command, type Values } from './command';

const splits: readonly SplitName[] = ['base', 'novel', 'all'];
const maxImages = 1_000_000;

function wholeNumber(values: Values, flag: string, range: [number, number], fallback?: number): number {
  const value = values[flag];
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined) throw new UsageError(`--${flag} is required`);
  const n = Number(value);
  if (
    typeof value !== 'string' ||
    !/^\d+$/.test(value) ||
    !Number.isSafeInteger(n) ||
    n < range[0] ||
    n > range[1]
  ) {
    throw new UsageError(
      `--${flag} wants a whole number from ${range[0]} to ${range[1]}, got "${String(value)}"`,
    );
  }
  return n;
}

async function synth(values: Values): Promise<number> {
  const task = oneOf(values, 'task', tasks);
  const images = wholeNumber(values, 'images', [1, maxImages]);
  const seed = wholeNumber(values, 'seed', [0, Number.MAX_SAFE_INTEGER]);
  const out = requiredString(values, 'out');
  const size = wholeNumber(values, 'size', [32, 2048], 128);
  const split = oneOf(values, 'split', splits, 'base');
  const datasetName = typeof values.dataset === 'string' ? values.dataset.trim() : undefined;
  if (values.dataset !== undefined && !datasetName) throw new UsageError('--dataset wants a name');
  if (values.data !== undefined && datasetName === undefined) {
    throw new UsageError('--data only matters with --dataset NAME (the workspace to import into)');
  }

  // The workspace is opened and the name checked before anything is written, so a taken name
  // or an unusable workspace costs nothing.
  let db: Db | undefined;
  let dataDir = '';
  try {
    if (datasetName !== undefined) {
      dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
      db = openStore(workspaceDbPath(dataDir));
      if (listDatasets(db).some((d) => d.name === datasetName)) {
        throw new UsageError(
          `a dataset named "${datasetName}" already exists in ${dataDir}: pick another --dataset`,
        );
      }
    }
    const summary = writeShapeWorld({ task, images, seed, out, width: size, height: size, split });
    let imported = '';
    if (db !== undefined) {
      const dataset = importShapeWorld(db, { datasetName: datasetName!, dir: summary.dir });
      imported = `; imported as dataset "${dataset.name}" (id ${dataset.id}) into ${dataDir}`;
    }
    process.stdout.write(
      `wrote ${summary.images} ${task} images, ${summary.objects} objects of ${summary.categoriesPresent}/` +
        `${shapeCategories.length} categories (split ${split}, seed ${seed}) to ${summary.dir}${imported}\n`,
    );
    return 0;
  } catch (error) {
    // A taken name, an occupied --out folder: the user's to fix, one line.
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  } finally {
    db?.close();
  }
}

export const synthCommand: Command = {
  summary: 'write a seeded ShapeWorld dataset (COCO + task items), optionally importing it',
  usage:
    'vrft synth --task detection|classification|rec|ovd --images N --seed S --out DIR ' +
    '[--size 128] [--split base|novel|all] [--dataset NAME] [--data DIR]',
  flags: {
    task: { type: 'string' },
    images: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    size: { type: 'string' },
    split: { type: 'string' },
    dataset: { type: 'string' },
    data: { type: 'string' },
  },
  run: synth,
};
