/**
 * A checkpoint is a folder: model.safetensors (every weight, adapters included),
 * optimizer.safetensors (AdamW's moments) and state.json (step, config, RNG state). Written to a
 * temporary folder and renamed, so a kill mid-write never leaves a half checkpoint.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Policy } from '../models/policy';
import { readSafetensors, writeSafetensors } from '../models/safetensors';
import type { AdamW } from './optimizer';

export interface CheckpointState {
  step: number;
  rngState?: number;
  [key: string]: unknown;
}

export function checkpointDir(root: string, step: number): string {
  return path.join(root, `step-${String(step).padStart(6, '0')}`);
}

export function saveCheckpoint(
  root: string,
  policy: Policy,
  optimizer: AdamW,
  state: CheckpointState,
): string {
  const dir = checkpointDir(root, state.step);
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp, { recursive: true });
    policy.saveCheckpointWeights(tmp);
    writeSafetensors(path.join(tmp, 'optimizer.safetensors'), optimizer.state());
    writeFileSync(
      path.join(tmp, 'state.json'),
      `${JSON.stringify({ ...state, optimizerStep: optimizer.step })}\n`,
    );
  } catch (error) {
    // A full disk mid-write: drop the half checkpoint (its space is what a resume needs).
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** The newest complete checkpoint under root, if any. */
export function latestCheckpoint(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const steps = readdirSync(root)
    .filter((name) => /^step-\d+$/.test(name) && existsSync(path.join(root, name, 'state.json')))
    .sort();
  return steps.length ? path.join(root, steps.at(-1)!) : undefined;
}

export function loadCheckpoint(dir: string, policy: Policy, optimizer: AdamW): CheckpointState {
  policy.loadCheckpointWeights(dir);
  const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as CheckpointState & {
    optimizerStep: number;
  };
  optimizer.load(readSafetensors(path.join(dir, 'optimizer.safetensors')).tensors, state.optimizerStep);
  return state;
}
