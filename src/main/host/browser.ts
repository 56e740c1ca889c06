/** Opens a URL in the user's browser, if this machine has one. */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

function browserCommand(): string[] | undefined {
  if (process.env.BROWSER) return [process.env.BROWSER];
  if (process.platform === 'darwin') return ['open'];
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '""'];
  for (const name of ['xdg-open', 'chromium', 'google-chrome', 'firefox']) {
    const found = onPath(name);
    if (found) return [found];
  }
  return undefined;
}

/** Returns false when no browser could be found; the caller then just prints the URL. */
export function openBrowser(url: string): boolean {
  const command = browserCommand();
  if (!command) return false;
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, [...args, url], { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  return true;
}
