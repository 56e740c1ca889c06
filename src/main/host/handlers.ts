/** The engine host's services behind the contract: one handler per call. */
import type { Database } from 'better-sqlite3';
import { createDataset, deleteDataset, listDatasets, renameDataset } from '../store/datasets';
import { schemaVersion } from '../store/db';
import { listMetrics, listRuns } from '../store/runs';
import { checkRewardWeights } from '../rewards/registry';
import { ConfigError, grpoConfigSchema, parseConfig, sftConfigSchema } from '../train/config';
import { createCheckedRun } from '../train/createRun';
import { UserError } from '../../shared/errors';
import type { Handlers } from './dispatch';
import { createDatasetHandlers } from './datasetHandlers';
import type { Broadcast, JobSupervisor } from './jobs';

export interface HostContext {
  db: Database;
  dataDir: string;
  version: string;
  /** The tensor backend the trainer reports; 'unknown' until the engine has been found. */
  backend: () => string;
  /** The backend's detail for the status bar's hover (which work runs natively), once known. */
  backendDetail?: () => string | undefined;
  jobs: JobSupervisor;
  broadcast: Broadcast;
}

/** A run config from a client, checked as `vrft train` checks a config file. */
function checkedConfig(method: 'sft' | 'grpo', config: unknown) {
  try {
    const parsed =
      method === 'grpo'
        ? parseConfig(grpoConfigSchema, config, 'config')
        : parseConfig(sftConfigSchema, config, 'config');
    if ('rewards' in parsed && parsed.rewards) checkRewardWeights(parsed.rewards);
    return parsed;
  } catch (error) {
    if (error instanceof ConfigError) throw new UserError('invalid_input', error.message);
    throw error;
  }
}

export function createHandlers(ctx: HostContext): Handlers {
  const { db, jobs } = ctx;
  const ok = { ok: true as const };
  return {
    ...createDatasetHandlers(ctx),
    'app.info': () => ({
      version: ctx.version,
      backend: ctx.backend(),
      ...(ctx.backendDetail?.() ? { backendDetail: ctx.backendDetail() } : {}),
      dataDir: ctx.dataDir,
      schemaVersion: schemaVersion(db),
    }),
    'datasets.list': () => listDatasets(db),
    'datasets.create': ({ name, description }) => createDataset(db, { name, description }),
    'datasets.rename': ({ id, name }) => renameDataset(db, id, name),
    'datasets.delete': ({ id }) => {
      if (!deleteDataset(db, id)) throw new UserError('not_found', `Dataset ${id} does not exist.`);
      return { deleted: true as const };
    },
    'runs.list': () =>
      listRuns(db).map((r) => ({
        id: r.id,
        kind: r.kind,
        status: r.status,
        error: r.error,
        datasetId: r.datasetId,
        parentRunId: r.parentRunId,
        steps: typeof r.config.steps === 'number' ? r.config.steps : null,
        lastStep: r.lastStep,
        createdAt: r.createdAt,
        running: jobs.isRunning(r.id),
      })),
    'runs.start': ({ method, config }) => {
      const runId = createCheckedRun(db, { kind: method, config: checkedConfig(method, config) }, 'config');
      jobs.start(runId);
      return { runId };
    },
    'runs.pause': ({ id }) => {
      jobs.stop(id, 'pause');
      return ok;
    },
    'runs.resume': ({ id }) => {
      jobs.resume(id);
      return ok;
    },
    'runs.cancel': ({ id }) => {
      jobs.stop(id, 'cancel');
      return ok;
    },
    'runs.metrics': ({ id, keys }) => {
      const series: Record<string, { step: number; value: number }[]> = {};
      for (const m of listMetrics(db, id)) {
        if (keys && !keys.includes(m.key)) continue;
        (series[m.key] ??= []).push({ step: m.step, value: m.value });
      }
      return series;
    },
  };
}
