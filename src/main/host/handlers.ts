/** The engine host's services behind the contract: one handler per call. */
import type { Database } from 'better-sqlite3';
import { createDataset, deleteDataset, listDatasets, renameDataset } from '../store/datasets';
import { schemaVersion } from '../store/db';
import { listMetrics } from '../store/runs';
import { aliveEveryMs } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import type { Handlers } from './dispatch';
import { createCompareHandlers } from './compareHandlers';
import { createDatasetHandlers } from './datasetHandlers';
import { createExperimentHandlers } from './experimentHandlers';
import { createModelHandlers } from './modelHandlers';
import { createRunHandlers } from './runHandlers';
import { createScaleOutHandlers, type RewardServers } from './scaleOutHandlers';
import { createTraceHandlers } from './traceHandlers';
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
  /** The reward servers of scale-out runs (TRL training elsewhere), closed with the host. */
  rewardServers: RewardServers;
  broadcast: Broadcast;
  /** The built compare worker (tests running from source name the build's). */
  compareWorker?: string;
  /** How often the host says 'host.alive' (the contract's default unless a test shortened it). */
  aliveEveryMs?: number;
}

export function createHandlers(ctx: HostContext): Handlers {
  const { db, jobs } = ctx;
  const ok = { ok: true as const };
  return {
    ...createDatasetHandlers(ctx),
    ...createRunHandlers(ctx),
    ...createModelHandlers(ctx),
    ...createExperimentHandlers(ctx),
    ...createTraceHandlers(ctx),
    ...createCompareHandlers(ctx),
    ...createScaleOutHandlers(ctx),
    'app.info': () => ({
      version: ctx.version,
      backend: ctx.backend(),
      ...(ctx.backendDetail?.() ? { backendDetail: ctx.backendDetail() } : {}),
      dataDir: ctx.dataDir,
      schemaVersion: schemaVersion(db),
      aliveEveryMs: ctx.aliveEveryMs ?? aliveEveryMs,
    }),
    'datasets.list': () => listDatasets(db),
    'datasets.create': ({ name, description }) => createDataset(db, { name, description }),
    'datasets.rename': ({ id, name }) => renameDataset(db, id, name),
    'datasets.delete': ({ id }) => {
      if (!deleteDataset(db, id)) throw new UserError('not_found', `Dataset ${id} does not exist.`);
      return { deleted: true as const };
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
