/**
 * The models a run can start from: the built-in one, the folders the workspace has used (the
 * `model` table, most recently used first) and finished runs' models; and what a folder the user
 * picks or types holds, before a run is started on it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ModelListing } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { isModelFolder } from '../models';
import { describeModel, inspectModelFolder } from '../models/inspect';
import { installedPath } from '../models/installed';
import { listModels } from '../store/models';
import { listRuns } from '../store/runs';
import { builtInModel } from '../train/experiment';
import { runDir } from '../train/runFiles';
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';

type ModelCalls = 'models.list' | 'models.inspect';

type Entry = Pick<ModelListing, 'name' | 'source' | 'runId'>;

/** A folder's listing, or why it cannot be used now (inspectModelFolder's message). */
function listing(dir: string, entry: Entry): { listed: ModelListing } | { problem: string } {
  if (!existsSync(dir)) return { problem: 'The folder is no longer there.' };
  try {
    const { kind, description } = inspectModelFolder(dir);
    return { listed: { ...entry, path: dir, kind, description, unavailable: null } };
  } catch (error) {
    if (error instanceof UserError) return { problem: error.message };
    throw error;
  }
}

/** The listing of a folder that can be used; undefined otherwise. */
const usable = (dir: string, entry: Entry) => {
  const found = listing(dir, entry);
  return 'listed' in found ? found.listed : undefined;
};

export function createModelHandlers(ctx: HostContext): Pick<Handlers, ModelCalls> {
  const { db, dataDir } = ctx;
  return {
    'models.list': () => {
      const runs = new Map<string, Entry>();
      for (const run of listRuns(db))
        if (run.kind !== 'eval' && run.status === 'completed')
          runs.set(path.join(runDir(dataDir, run.id), 'model'), {
            name: `${run.name || `${run.kind.toUpperCase()} ${run.id}`} (run ${run.id})`,
            source: 'run',
            runId: run.id,
          });
      const out: ModelListing[] = [];
      const seen = new Set<string>();
      const push = (entry: ModelListing | undefined) => {
        if (!entry || seen.has(entry.path)) return;
        seen.add(entry.path);
        out.push(entry);
      };
      // The built-in model and runs' models are offered while they can be used, as before.
      push(usable(builtInModel, { name: 'tiny-vlm-base (built in)', source: 'built-in', runId: null }));
      // A folder the workspace has used stays listed when it is gone or broken, with the reason,
      // so a model that moved is noticed rather than silently missing from the list.
      const remembered = [...listModels(db)].sort((a, b) => b.lastUsedAt - a.lastUsedAt || b.id - a.id);
      for (const m of remembered) {
        if (seen.has(m.path)) continue;
        const run = runs.get(m.path);
        if (run) {
          push(usable(m.path, run));
          continue;
        }
        const entry: Entry = { name: m.name, source: 'workspace', runId: null };
        const found = listing(m.path, entry);
        push(
          'listed' in found
            ? found.listed
            : {
                ...entry,
                path: m.path,
                kind: m.kind,
                description: describeModel(m.kind, m.config),
                unavailable: found.problem,
              },
        );
      }
      for (const [dir, run] of runs) push(usable(dir, run));
      return out;
    },
    'models.inspect': ({ path: typed }) => {
      // As a run's config is read: from the working directory, then vrft's own folder.
      const dir =
        [path.resolve(typed), installedPath(typed)].find((d) => d !== undefined && isModelFolder(d)) ??
        path.resolve(typed);
      const { kind, description } = inspectModelFolder(dir);
      return { path: dir, kind, description };
    },
  };
}
