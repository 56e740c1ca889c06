import path from 'node:path';

/** Where a run keeps its files in the workspace: checkpoints/ and, once finished, model/. */
export function runDir(dataDir: string, runId: number): string {
  return path.join(dataDir, 'runs', String(runId));
}
