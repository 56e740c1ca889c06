/**
 * The bootstrap of a comparison, off the host's event loop: ~2 s per Δ at 700 evaluation answers,
 * during which the host would otherwise answer no other call. A worker thread opens the workspace
 * itself, measures, posts the comparison back and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compareInWorkspace } from '../commands/compare';
import { openStore } from '../store/db';
import { getEvaluation } from '../store/evaluations';

export interface CompareJob {
  dbFile: string;
  columns: { label: string; runId: number; evaluationId: number }[];
  resamples: number;
}

const job = workerData as CompareJob;
const db = openStore(job.dbFile);
try {
  const columns = job.columns.map(({ label, runId, evaluationId }) => ({
    label,
    runId,
    evaluation: getEvaluation(db, evaluationId)!,
  }));
  parentPort!.postMessage(compareInWorkspace(db, columns, job.resamples));
} finally {
  db.close();
}
