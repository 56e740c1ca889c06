/**
 * Test helpers around the built `vrft` command: run it, and make a workspace with a dataset; and
 * per-test workspaces for tests that import and export through the store.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { createFewShotSplits } from '../../src/main/data/splits';
import { openStore, workspaceDbPath, type Db } from '../../src/main/store/db';

export function vrft(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/vrft.js', ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A workspace at `data` holding a small ShapeWorld novel-category detection dataset "shapes". */
export function shapesWorkspace(data: string, images = 6, seed = 3): string {
  const out = vrft(
    'synth',
    '--task',
    'detection',
    '--images',
    String(images),
    '--seed',
    String(seed),
    '--size',
    '64',
    '--split',
    'novel',
    '--out',
    path.join(data, 'sw'),
    '--dataset',
    'shapes',
    '--data',
    data,
  );
  if (out.code !== 0) throw new Error(`vrft synth failed: ${out.stderr}`);
  return data;
}

/** shapesWorkspace with a 1-shot split of "shapes" and its evaluation split "1-shot-eval". */
export function shapesWorkspaceWithSplit(data: string, images = 12): string {
  shapesWorkspace(data, images);
  const db = openStore(workspaceDbPath(data));
  try {
    createFewShotSplits(db, { datasetId: 1, name: '1-shot', k: 1, seed: 0, evalName: '1-shot-eval' });
  } finally {
    db.close();
  }
  return data;
}

/**
 * A workspace at `data` whose detection dataset "shapes" mixes image sizes (ShapeWorld scenes of
 * each size, 64×64 and 96×96 by default, merged into one COCO file and imported): real datasets do.
 */
export function mixedSizesWorkspace(data: string, perSize = 3, sizes = [64, 96]): string {
  const merged = {
    images: [] as CocoImage[],
    annotations: [] as CocoAnnotation[],
    categories: [] as unknown[],
  };
  const folder = path.join(data, 'mixed');
  mkdirSync(path.join(folder, 'images'), { recursive: true });
  sizes.forEach((size, set) => {
    const out = path.join(data, `sw${size}`);
    const made = spawnSync(
      process.execPath,
      [
        'bin/vrft.js',
        'synth',
        '--task',
        'detection',
        '--images',
        String(perSize),
        '--seed',
        String(3 + set),
      ].concat(['--size', String(size), '--split', 'novel', '--out', out]),
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`vrft synth failed: ${made.stderr}`);
    const coco = JSON.parse(readFileSync(path.join(out, 'annotations.json'), 'utf8')) as Coco;
    const offset = set * 1000;
    for (const image of coco.images) {
      const name = `images/${size}-${path.basename(image.file_name)}`;
      copyFileSync(path.join(out, image.file_name), path.join(folder, name));
      merged.images.push({ ...image, id: image.id + offset, file_name: name });
    }
    for (const a of coco.annotations)
      merged.annotations.push({ ...a, id: a.id + offset, image_id: a.image_id + offset });
    merged.categories = coco.categories;
  });
  writeFileSync(path.join(folder, 'annotations.json'), JSON.stringify(merged));
  const imported = spawnSync(
    process.execPath,
    [
      'bin/vrft.js',
      'import',
      path.join(folder, 'annotations.json'),
      '--dataset',
      'shapes',
      '--format',
      'coco',
      '--data',
      data,
    ],
    { encoding: 'utf8' },
  );
  if (imported.status !== 0) throw new Error(`vrft import failed: ${imported.stderr}`);
  return data;
}

interface CocoImage {
  id: number;
  file_name: string;
}
interface CocoAnnotation {
  id: number;
  image_id: number;
}
interface Coco {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: unknown[];
}

/**
 * Per-test folders under one temporary root (removed after the file), each with a workspace that
 * is closed after its test: `const workspace = caseWorkspaces('import')`, then `workspace()` in a test.
 */
export function caseWorkspaces(prefix: string): () => { dir: string; dataDir: string; db: Db } {
  const root = mkdtempSync(path.join(os.tmpdir(), `vrft-${prefix}-`));
  const opened: Db[] = [];
  afterEach(() => opened.splice(0).forEach((db) => db.close()));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let counter = 0;
  return () => {
    const dir = path.join(root, `case-${++counter}`);
    mkdirSync(dir, { recursive: true });
    const dataDir = path.join(dir, 'workspace');
    const db = openStore(workspaceDbPath(dataDir));
    opened.push(db);
    return { dir, dataDir, db };
  };
}
