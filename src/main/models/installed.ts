/**
 * Models that ship with vrft (resources/models/…), found wherever vrft is installed: above this
 * module in the source tree, in out/main/ after a build, or beside app.asar in a packaged app —
 * never against the working directory a command or the host was started in.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder that holds resources/models, looked for above this module; undefined if none. */
function installRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = dir.replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`);
    if (existsSync(path.join(candidate, 'resources', 'models'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const root = installRoot();

/** A path relative to vrft's own folder (resources/models/tiny-vlm-base), or undefined. */
export function installedPath(relative: string): string | undefined {
  return root === undefined || path.isAbsolute(relative) ? undefined : path.join(root, relative);
}

/** The built-in model's relative path, as configs name it. */
export const builtInModelPath = path.join('resources', 'models', 'tiny-vlm-base');
