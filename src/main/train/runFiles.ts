import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a run keeps its files in the workspace: checkpoints/ and, once finished, model/. */
export function runDir(dataDir: string, runId: number): string {
  return path.join(dataDir, 'runs', String(runId));
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
