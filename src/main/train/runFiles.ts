import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a run keeps its files in the workspace: checkpoints/ and, once finished, model/. */
export function runDir(dataDir: string, runId: number): string {
  return path.join(dataDir, 'runs', String(runId));
}

/**
 * Where a finished run's final model is: `model/` in its run folder, or, for a run trained
 * elsewhere and imported (`vrft import-run`), the folder its trainer saved it to.
 */
export function runModelDir(dataDir: string, run: { id: number; config: Record<string, unknown> }): string {
  return importedModelDir(run.config) ?? path.join(runDir(dataDir, run.id), 'model');
}

/** An imported run's final model folder (config.source.model), if it has one. */
export function importedModelDir(config: Record<string, unknown>): string | undefined {
  const source = config.source as { model?: unknown } | undefined;
  return typeof source?.model === 'string' ? source.model : undefined;
}

/** The built trainer process script, found from wherever the caller's bundle chunk landed. */
export function trainerScript(fromFileUrl: string): string {
  return builtScript('trainer.js', fromFileUrl);
}

/** A built entry script (out/main/NAME) next to the caller's bundle chunk or one folder up. */
export function builtScript(name: string, fromFileUrl: string): string {
  const here = path.dirname(fileURLToPath(fromFileUrl));
  const found = [path.join(here, name), path.join(here, '..', name)].find((p) => existsSync(p));
  if (!found) throw new Error(`${name} is not built (not near ${here}): run \`npm run build\` first.`);
  return found;
}
