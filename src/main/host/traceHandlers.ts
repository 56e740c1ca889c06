/** The Traces view's services behind the contract (traceContract.ts): GRPO rollouts by step, group, search. */
import { getAnnotation } from '../store/annotations';
import { getCategory } from '../store/categories';
import type { Db } from '../store/db';
import { getRun } from '../store/runs';
import {
  imageTruth,
  nearestPromptStep,
  rolloutGroup,
  searchRollouts,
  stepPrompts,
  traceSteps,
  traceWarnings,
} from '../store/traces';
import { taskRewards, tasks, type Task } from '../rewards/registry';
import { UserError } from '../../shared/errors';
import type { RolloutGroup } from '../../shared/traceContract';
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';
import type { traceCalls } from '../../shared/traceContract';

/** The run, which must be a GRPO run (only those keep rollouts). */
export function grpoRun(db: Db, runId: number) {
  const run = getRun(db, runId);
  if (!run) throw new UserError('not_found', `There is no run ${runId} in this workspace.`);
  if (run.kind !== 'grpo')
    throw new UserError(
      'invalid_input',
      `Run ${runId} is ${run.kind === 'sft' ? 'an SFT' : 'an evaluation'} run; only GRPO runs keep rollouts to trace.`,
    );
  return run;
}

/** The category a detection prompt key asks for ("image 12: circle" → circle). */
export function askedCategory(promptKey: string): string | null {
  return /^image \d+: (.+)$/.exec(promptKey)?.[1] ?? null;
}

/**
 * What an REC prompt key asks and of which box ("image 12: the red circle#31" → the expression and
 * annotation 31, train/recExamples' recKey); its truth is that one box, while it still exists.
 */
function recAsked(db: Db, promptKey: string): { asked: string | null; truth: RolloutGroup['truth'] } {
  const key = /^image \d+: (.+)#(\d+)$/.exec(promptKey);
  if (!key) return { asked: askedCategory(promptKey), truth: [] };
  const box = getAnnotation(db, Number(key[2]));
  const label = box && getCategory(db, box.categoryId)?.name;
  return {
    asked: key[1]!,
    truth: box && label !== undefined ? [{ x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2, label }] : [],
  };
}

/** One prompt's group with what the view draws beside it: image size, ground truth, weights. */
export function traceGroup(db: Db, runId: number, step: number, promptKey: string): RolloutGroup {
  const run = grpoRun(db, runId);
  const rows = rolloutGroup(db, runId, step, promptKey);
  if (rows.length === 0)
    throw new UserError('not_found', `Run ${runId} has no rollouts of "${promptKey}" at step ${step}.`);
  const first = rows[0]!;
  const truth = first.imageId === null ? undefined : imageTruth(db, first.imageId);
  const task = (tasks as readonly string[]).includes(String(run.config.task))
    ? (run.config.task as Task)
    : 'detection';
  const rec = task === 'rec' ? recAsked(db, promptKey) : undefined;
  const asked = rec ? rec.asked : askedCategory(promptKey);
  const weights = (run.config.rewards as Record<string, number> | undefined) ?? taskRewards[task];
  return {
    runId,
    step,
    promptKey,
    prompt: first.prompt,
    imageId: first.imageId,
    image: truth ? { width: truth.width, height: truth.height } : null,
    asked,
    truth: rec ? rec.truth : truth ? truth.boxes.filter((b) => asked === null || b.label === asked) : [],
    weights,
    rollouts: rows.map((r) => ({
      id: r.id,
      sampleIndex: r.sampleIndex,
      completion: r.completion,
      tokens: r.tokens,
      truncated: r.truncated,
      rewards: r.rewards,
      reward: r.reward,
      advantage: r.advantage,
      meanLogprob: r.meanLogprob,
      parsed: (r.parsed ?? null) as RolloutGroup['rollouts'][number]['parsed'],
    })),
  };
}

export function createTraceHandlers(ctx: HostContext): Pick<Handlers, keyof typeof traceCalls> {
  const { db } = ctx;
  return {
    'traces.steps': ({ runId }) => {
      grpoRun(db, runId);
      return { steps: traceSteps(db, runId), warnings: traceWarnings(db, runId) };
    },
    'traces.prompts': ({ runId, step }) => {
      grpoRun(db, runId);
      return stepPrompts(db, runId, step);
    },
    'traces.group': ({ runId, step, promptKey }) => traceGroup(db, runId, step, promptKey),
    'traces.search': ({ runId, ...query }) => {
      grpoRun(db, runId);
      return searchRollouts(db, runId, { ...query, text: query.text || undefined });
    },
    'traces.nearest': ({ runId, promptKey, step }) => {
      grpoRun(db, runId);
      return { step: nearestPromptStep(db, runId, promptKey, step) };
    },
  };
}
