#!/usr/bin/env node
// The `vrft` command runs the built engine (out/main/cli.js); `npm run build` makes it.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('../out/main/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('vrft: not built yet: run `npm run build` in the vrft folder first.\n');
  process.exit(1);
}
await import(pathToFileURL(cli).href);
