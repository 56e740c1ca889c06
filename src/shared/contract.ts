/**
 * The one contract between the renderer and the engine host. Every call has a name, a zod input
 * and a zod output; every event a name and a zod payload. The host registers one handler per call
 * (host/handlers.ts), the preload exposes one method per call, the browser client sends the same
 * calls over WebSocket. Adding a call is one entry here plus one handler.
 */
import { z } from 'zod';
import type { ContractErrorBody } from './errors';

const id = z.number().int().positive();
const datasetName = z.string().trim().min(1, 'a dataset needs a name').max(200);

export const dataset = z.object({
  id,
  name: z.string(),
  description: z.string(),
  imageCount: z.number().int().nonnegative(),
  annotationCount: z.number().int().nonnegative(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Dataset = z.infer<typeof dataset>;

export const appInfo = z.object({
  version: z.string(),
  /** The tensor backend the trainer uses ('unknown' until the engine reports one). */
  backend: z.string(),
  dataDir: z.string(),
  schemaVersion: z.number().int(),
});
export type AppInfo = z.infer<typeof appInfo>;

const runStatus = z.enum(['queued', 'running', 'paused', 'completed', 'failed', 'cancelled']);

export const runSummary = z.object({
  id,
  kind: z.enum(['sft', 'grpo', 'eval']),
  status: runStatus,
  error: z.string().nullable(),
  datasetId: z.number().int().nullable(),
  parentRunId: z.number().int().nullable(),
  /** Steps the run was configured for (answers, for an evaluation). */
  steps: z.number().int().nullable(),
  /** The last step with logged metrics. */
  lastStep: z.number().int().nullable(),
  createdAt: z.number(),
  running: z.boolean(),
});
export type RunSummary = z.infer<typeof runSummary>;

const runId = z.object({ id }).strict();

export const calls = {
  'app.info': { input: z.object({}).strict(), output: appInfo },
  'datasets.list': { input: z.object({}).strict(), output: z.array(dataset) },
  'datasets.create': {
    input: z.object({ name: datasetName, description: z.string().max(10_000).default('') }).strict(),
    output: dataset,
  },
  'datasets.rename': { input: z.object({ id, name: datasetName }).strict(), output: dataset },
  'datasets.delete': {
    input: z.object({ id }).strict(),
    output: z.object({ deleted: z.literal(true) }),
  },
  'runs.list': { input: z.object({}).strict(), output: z.array(runSummary) },
  /** Creates a run from a config (validated as `vrft train` does) and starts it in a trainer process. */
  'runs.start': {
    input: z.object({ method: z.enum(['sft', 'grpo']), config: z.record(z.string(), z.unknown()) }).strict(),
    output: z.object({ runId: id }),
  },
  'runs.pause': { input: runId, output: z.object({ ok: z.literal(true) }) },
  'runs.resume': { input: runId, output: z.object({ ok: z.literal(true) }) },
  'runs.cancel': { input: runId, output: z.object({ ok: z.literal(true) }) },
  'runs.metrics': {
    input: z.object({ id, keys: z.array(z.string()).max(64).optional() }).strict(),
    output: z.record(z.string(), z.array(z.object({ step: z.number(), value: z.number() }))),
  },
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
  /** The tensor backend the trainer will use, once the host has found it. */
  'engine.ready': z.object({ backend: z.string(), notUsed: z.array(z.string()) }),
} as const;

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
