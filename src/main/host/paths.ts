import os from 'node:os';
import path from 'node:path';

/** The OS's per-user application-data folder for vrft: where the workspace lives by default. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const home = os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'vrft');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'vrft');
  return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'vrft');
}
