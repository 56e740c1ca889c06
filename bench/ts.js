// Runs a TypeScript bench script: bundles it with vite (SSR build, dependencies external) into
// node_modules/.cache and imports it. Usage: node bench/ts.js bench/rewards.ts [args…]
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: node bench/ts.js bench/NAME.ts [args…]');
  process.exit(2);
}
const outDir = path.resolve('node_modules/.cache/vrft-bench');
mkdirSync(outDir, { recursive: true });
const name = path.basename(entry, '.ts');
await build({
  configFile: false,
  logLevel: 'warn',
  build: {
    ssr: path.resolve(entry),
    outDir,
    emptyOutDir: false,
    minify: false,
    rollupOptions: { output: { entryFileNames: `${name}.mjs`, format: 'es' } },
  },
});
process.argv.splice(2, 1);
await import(pathToFileURL(path.join(outDir, `${name}.mjs`)).href);
