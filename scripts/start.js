// `npm start`: the Electron window where an Electron binary can be had (it is downloaded on first
// use on a connected machine), browser mode where it cannot (offline installs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function electronBinary() {
  // `require('electron')` returns the binary's path, downloading it if it is missing.
  const probe = spawnSync(process.execPath, ['-e', "process.stdout.write(require('electron'))"], {
    cwd: root,
    encoding: 'utf8',
  });
  return probe.status === 0 && probe.stdout && existsSync(probe.stdout) ? probe.stdout : undefined;
}

function run(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const electron = electronBinary();
if (electron) {
  run(electron, ['.']);
} else {
  console.log('vrft: no Electron binary could be had (offline install?): starting browser mode instead.');
  run(process.execPath, ['bin/vrft.js', 'serve', '--open']);
}
