// Builds the optional native CPU kernels (native/, see src/main/engine/native.ts) with node-gyp.
// `npm install` runs it as postinstall and carries on if it fails (training then runs on the wasm
// kernels alone, ~2× slower); `npm run build:native` runs it with --strict, failing loudly.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const native = fileURLToPath(new URL('../native', import.meta.url));
// npm tells its scripts where its own node-gyp is; otherwise it sits beside npm.
const gyp =
  process.env.npm_config_node_gyp ??
  path.join(
    path.dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
const args = [gyp, 'rebuild'];
// Offline, node-gyp cannot download Node's headers: use the installed ones when they are there.
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const started = Date.now();
const run = existsSync(gyp)
  ? spawnSync(process.execPath, args, { cwd: native, encoding: 'utf8' })
  : { status: 1, stdout: '', stderr: `node-gyp not found at ${gyp}` };
if (run.status === 0) {
  console.log(
    `vrft: built the native kernels (native/build/Release/vrft_kernels.node) in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
} else {
  const errors = `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter((line) => /error|not found|ERR!/i.test(line))
    .slice(0, 8)
    .join('\n');
  console.warn(
    `vrft: the native kernels did not build, so training runs on the wasm kernels alone (~2× slower).\n` +
      `${errors}\nTo build them: install python3, make and a C++ compiler (Debian: apt-get install -y python3 make g++), then run npm run build:native.`,
  );
  if (strict) process.exit(1);
}
