/**
 * A scale-out run's plan: what `vrft scale-out export` fixed when it wrote the TRL project, kept in
 * the workspace (runs/N/scale-out.json) for the reward server — the prompts by sample id with their
 * ground truth and reward context, the rewards and their weights, the group size and scale mode
 * the advantages use, and the token the project's requests carry.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import type { RewardContext, Solution } from '../rewards/registry';
import type { ScaleRewards } from '../train/grpo/advantages';
import { runDir } from '../train/runFiles';

export interface PlannedSample {
  /** Stable across steps: the prompt's key (image + question). */
  sampleId: string;
  imageId: number | null;
  prompt: string;
  solution: Solution;
  context: RewardContext;
  /** The category a detection question asks for. */
  asked?: string;
}

export interface ScaleOutPlan {
  version: 1;
  runId: number;
  token: string;
  /** Where the project expects the server (reward.json's url). */
  host: string;
  port: number;
  rewards: Record<string, number>;
  numGenerations: number;
  scaleRewards: ScaleRewards;
  maxCompletionLength: number;
  /** Completions per generation round across all processes: promptsPerStep × G. */
  generationBatch: number;
  gpus: number;
  samples: PlannedSample[];
}

/** The port an exported project expects its reward server on, unless told otherwise. */
export const defaultRewardPort = 8765;

const planFile = (dataDir: string, runId: number) => path.join(runDir(dataDir, runId), 'scale-out.json');

export function writePlan(dataDir: string, plan: ScaleOutPlan): void {
  const file = planFile(dataDir, plan.runId);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(plan)}\n`, { mode: 0o600 });
}

/** The plan of run `runId`; a run that was not exported for scale-out says so. */
export function readPlan(dataDir: string, runId: number): ScaleOutPlan {
  const file = planFile(dataDir, runId);
  if (!existsSync(file))
    throw new UserError(
      'not_found',
      `run ${runId} was not exported for scale-out (no ${file}): export one with \`vrft scale-out export\``,
    );
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ScaleOutPlan;
  } catch (error) {
    throw new UserError('invalid_input', `${file}: not valid JSON (${(error as Error).message})`);
  }
}
