/**
 * The one contract between the renderer and the engine host. Every call has a name, a zod input
 * and a zod output; every event a name and a zod payload. The host registers one handler per call
 * (host/handlers.ts), the preload exposes one method per call, the browser client sends the same
 * calls over WebSocket. Adding a call is one entry here plus one handler.
 */
import { z } from 'zod';
import type { ContractErrorBody } from './errors';
import { compareCalls } from './compareContract';
import { datasetCalls } from './datasetContract';
import { scaleOutCalls, scaleOutSummary } from './scaleOutContract';
import { traceCalls } from './traceContract';

export * from './datasetContract';

const id = z.number().int().positive();
/** What a run trains or evaluates: boxes by category, an image's label, or the box an expression names. */
export const tasks = ['detection', 'classification', 'rec'] as const;
export type RunTask = (typeof tasks)[number];

export const appInfo = z.object({
  version: z.string(),
  /** The tensor backend the trainer uses ('unknown' until the engine reports one). */
  backend: z.string(),
  /** What the status bar's hover says of it: which work the native kernels run here, and why. */
  backendDetail: z.string().optional(),
  dataDir: z.string(),
  schemaVersion: z.number().int(),
  /** How often the host says 'host.alive' (aliveEveryMs, unless a test shortened it). */
  aliveEveryMs: z.number().int().positive(),
});
export type AppInfo = z.infer<typeof appInfo>;

const runStatus = z.enum(['queued', 'running', 'paused', 'completed', 'failed', 'cancelled']);

/** Something a run's trainer warned about (reward hacking, no reward spread, …), kept in the store. */
export const runWarning = z.object({ kind: z.string(), step: z.number().int(), message: z.string() });
export type RunWarning = z.infer<typeof runWarning>;

export const runSummary = z.object({
  id,
  /** The user's name for it ('' until named: the list shows "SFT 7"). */
  name: z.string(),
  kind: z.enum(['sft', 'grpo', 'eval']),
  task: z.enum(tasks),
  status: runStatus,
  error: z.string().nullable(),
  datasetId: z.number().int().nullable(),
  datasetName: z.string().nullable(),
  splitId: z.number().int().nullable(),
  splitName: z.string().nullable(),
  /** The model folder it trained (or evaluated), and a short name for it. */
  modelPath: z.string(),
  modelName: z.string(),
  parentRunId: z.number().int().nullable(),
  /** Steps the run was configured for (answers, for an evaluation). */
  steps: z.number().int().nullable(),
  /** The last step with logged metrics (answers scored, for an evaluation). */
  lastStep: z.number().int().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  running: z.boolean(),
  /** The newest value of each headline metric (reward, loss, kl, …) at lastStep. */
  latest: z.record(z.string(), z.number()),
  warnings: z.array(runWarning),
  /** Its newest evaluation (its own for an eval run, else its newest evaluation child's). */
  evaluation: z
    .object({
      id,
      runId: id,
      splitName: z.string().nullable(),
      /** AP50 (detection), accuracy (classification) or Acc@0.5 (REC: metrics.acc50), 0–1. */
      figure: z.number(),
      figureName: z.enum(['AP50', 'accuracy', 'Acc@0.5']),
    })
    .nullable(),
  /** The experiment it belongs to, if any. */
  experimentId: z.number().int().nullable(),
  /** Where it trains when not here: TRL on a cluster (exported for scale-out); null for a local run. */
  scaleOut: scaleOutSummary.nullable(),
});
export type RunSummary = z.infer<typeof runSummary>;

export const modelKind = z.enum(['tiny-vlm', 'qwen2-vl', 'qwen2.5-vl']);
export type ModelKind = z.infer<typeof modelKind>;

export const modelListing = z.object({
  name: z.string(),
  path: z.string(),
  kind: modelKind,
  /** One line from its config.json: "Qwen2-VL · 2 layers · hidden 64". */
  description: z.string(),
  /** Shipped with vrft, a folder the workspace has used, or a finished run's model. */
  source: z.enum(['built-in', 'workspace', 'run']),
  runId: z.number().int().nullable(),
  /** Why a remembered folder cannot be used now (gone, or no longer a model); null when it can. */
  unavailable: z.string().nullable(),
});
export type ModelListing = z.infer<typeof modelListing>;

const experimentStatus = z.enum(['running', 'completed', 'failed', 'cancelled']);

export const experimentSummary = z.object({
  id,
  name: z.string(),
  datasetId: z.number().int().nullable(),
  datasetName: z.string().nullable(),
  trainSplit: z.string().nullable(),
  evalSplit: z.string().nullable(),
  steps: z.number().int(),
  /** The base model's evaluation run, the SFT and the GRPO training runs, once each exists. */
  runs: z.object({
    base: z.number().int().nullable(),
    sft: z.number().int().nullable(),
    rft: z.number().int().nullable(),
  }),
  status: experimentStatus,
  /** What it is doing now, in words. */
  phase: z.string(),
  error: z.string().nullable(),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
});
export type ExperimentSummary = z.infer<typeof experimentSummary>;

const runId = z.object({ id }).strict();

const ok = z.object({ ok: z.literal(true) });

export const calls = {
  'app.info': { input: z.object({}).strict(), output: appInfo },
  ...datasetCalls,
  'runs.list': { input: z.object({}).strict(), output: z.array(runSummary) },
  /** Creates a run from a config (validated as `vrft train` does) and starts it in a trainer process. */
  'runs.start': {
    input: z
      .object({
        method: z.enum(['sft', 'grpo']),
        config: z.record(z.string(), z.unknown()),
        name: z.string().trim().max(200).optional(),
      })
      .strict(),
    output: z.object({ runId: id }),
  },
  'runs.pause': { input: runId, output: ok },
  'runs.resume': { input: runId, output: ok },
  'runs.cancel': { input: runId, output: ok },
  'runs.metrics': {
    input: z.object({ id, keys: z.array(z.string()).max(64).optional() }).strict(),
    output: z.record(z.string(), z.array(z.object({ step: z.number(), value: z.number() }))),
  },
  /**
   * Runs' metrics aligned on their logged steps, for charts: per run id, the steps, when each was
   * logged (ms; null for rows written before times were kept) and each key's values (null: not
   * logged at that step, or NaN).
   */
  'runs.series': {
    input: z
      .object({ ids: z.array(id).min(1).max(32), keys: z.array(z.string()).max(64).optional() })
      .strict(),
    output: z.record(
      z.string(),
      z.object({
        steps: z.array(z.number()),
        times: z.array(z.number().nullable()),
        values: z.record(z.string(), z.array(z.number().nullable())),
      }),
    ),
  },
  'runs.rename': { input: z.object({ id, name: z.string().trim().max(200) }).strict(), output: ok },
  /** Every setting of a method with its default (what the form shows before the user edits). */
  'runs.defaults': {
    input: z.object({ method: z.enum(['sft', 'grpo']) }).strict(),
    output: z.record(z.string(), z.unknown()),
  },
  'runs.checkpoints': {
    input: runId,
    output: z.array(z.object({ step: z.number().int(), createdAt: z.number() })),
  },
  /** Evaluates a finished run's model, or one of its checkpoints, on a split: a new eval run. */
  'runs.evaluate': {
    input: z
      .object({ id, splitId: id.optional(), checkpointStep: z.number().int().nonnegative().optional() })
      .strict(),
    output: z.object({ runId: id }),
  },
  /** Evaluates a model folder (the base model, say) on a split of a dataset: a new eval run. */
  'models.evaluate': {
    input: z
      .object({
        model: z.string().min(1),
        splitId: id,
        task: z.enum(tasks).default('detection'),
      })
      .strict(),
    output: z.object({ runId: id }),
  },
  /** The models a run can start from: built in, the workspace's folders (most recently used first), finished runs'. */
  'models.list': { input: z.object({}).strict(), output: z.array(modelListing) },
  /**
   * What a model folder holds, from its config.json, without loading it; an error (the message the
   * form shows before Start) when it is not a model vrft can load.
   */
  'models.inspect': {
    input: z.object({ path: z.string().trim().min(1) }).strict(),
    output: z.object({ path: z.string(), kind: modelKind, description: z.string() }),
  },
  'experiments.list': { input: z.object({}).strict(), output: z.array(experimentSummary) },
  /**
   * Base vs SFT vs RFT on one split with one budget, as `vrft experiment` does: evaluates the base
   * model, trains SFT and GRPO, evaluates each; progress as `experiment.state` and the runs' events.
   */
  'experiments.start': {
    input: z
      .object({
        splitId: id,
        /** The evaluation split; by default the train split's "-eval" sibling. */
        evalSplitId: id.optional(),
        model: z.string().min(1).optional(),
        task: z.enum(tasks).default('detection'),
        steps: z.number().int().min(1).max(100_000).default(200),
        seed: z.number().int().nonnegative().default(0),
        name: z.string().trim().max(200).optional(),
      })
      .strict(),
    output: z.object({ experimentId: id }),
  },
  /** The first screen's "Try the demo": the ShapeWorld dataset, its 4-shot split, the experiment. */
  'experiments.startDemo': { input: z.object({}).strict(), output: z.object({ experimentId: id }) },
  'experiments.cancel': { input: z.object({ id }).strict(), output: ok },
  ...traceCalls,
  ...compareCalls,
  ...scaleOutCalls,
} as const;

export const events = {
  'job.progress': z.object({
    runId: id,
    step: z.number().int().nonnegative(),
    totalSteps: z.number().int().nonnegative(),
    metrics: z.record(z.string(), z.number()),
    etaSeconds: z.number().nonnegative().nullable(),
  }),
  'job.state': z.object({ runId: id, state: runStatus, error: z.string().nullable() }),
  /** Training looks unhealthy (reward hacking, no reward spread, …): once per kind and run. */
  'job.warning': z.object({ runId: id, kind: z.string(), message: z.string() }),
  'import.progress': z.object({
    phase: z.string(),
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
  }),
  'experiment.state': z.object({
    experimentId: id,
    status: experimentStatus,
    phase: z.string(),
    error: z.string().nullable(),
  }),
  /**
   * Said every few seconds (`aliveEveryMs`) to every client: a client that hears none for three
   * times that says the engine is not answering (a blocked or stopped host keeps its socket open).
   */
  'host.alive': z.object({}),
  /** The tensor backend the trainer will use, once the host has found it. */
  'engine.ready': z.object({ backend: z.string(), detail: z.string(), notUsed: z.array(z.string()) }),
} as const;

/** How often the host says 'host.alive'; a client silent thrice as long says the engine is not answering. */
export const aliveEveryMs = 10_000;

export type Calls = typeof calls;
export type CallName = keyof Calls;
export type CallInput<N extends CallName> = z.input<Calls[N]['input']>;
export type CallOutput<N extends CallName> = z.output<Calls[N]['output']>;
export type EventName = keyof typeof events;
export type EventPayload<N extends EventName> = z.output<(typeof events)[N]>;

export const callNames = Object.keys(calls) as CallName[];
export const eventNames = Object.keys(events) as EventName[];

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ContractErrorBody };

/** Messages on the WebSocket: the client sends requests, the host answers and pushes events. */
export interface WireRequest {
  id: number;
  call: string;
  input: unknown;
}
export type WireMessage = { id: number; result: Envelope<unknown> } | { event: string; payload: unknown };

export function isCallName(name: string): name is CallName {
  return Object.hasOwn(calls, name);
}
