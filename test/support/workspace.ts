/** Test helpers around the built `vrft` command: run it, and make a workspace with a dataset. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createFewShotSplits } from '../../src/main/data/splits';
import { openStore, workspaceDbPath } from '../../src/main/store/db';

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
