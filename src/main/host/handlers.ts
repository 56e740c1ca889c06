/** The engine host's services behind the contract: one handler per call. */
import type { Database } from 'better-sqlite3';
import { createDataset, deleteDataset, listDatasets, renameDataset } from '../store/datasets';
import { schemaVersion } from '../store/db';
import { UserError } from '../../shared/errors';
import type { Handlers } from './dispatch';

export interface HostContext {
  db: Database;
  dataDir: string;
  version: string;
  /** The tensor backend the trainer reports; 'unknown' until the engine exists. */
  backend: () => string;
}

export function createHandlers(ctx: HostContext): Handlers {
  const { db } = ctx;
  return {
    'app.info': () => ({
      version: ctx.version,
      backend: ctx.backend(),
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
  };
}
