import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { contentSecurityPolicy } from './src/shared/csp';

/** Writes the one CSP into index.html, where the Electron window (file://) reads it. */
function cspMeta(): Plugin {
  return {
    name: 'vrft-csp',
    transformIndexHtml: (html) => html.replace('%VRFT_CSP%', contentSecurityPolicy),
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        // index: the Electron shell; cli: the `vrft` command and the engine host it starts;
        // trainer: one process per training run; pretrain: `npm run pretrain`; gradientWorker: the
        // second half of a data-parallel SFT step (train/dataParallel.ts); compareWorker: a
        // comparison's bootstrap, off the host's event loop; recordWorker: the reward server's
        // SQLite writer (scaleOut/recordWorker.ts).
        input: {
          index: resolve('src/main/index.ts'),
          cli: resolve('src/main/cli.ts'),
          pretrain: resolve('src/main/pretrain/pretrain.ts'),
          trainer: resolve('src/main/train/worker.ts'),
          gradientWorker: resolve('src/main/train/gradientWorker.ts'),
          compareWorker: resolve('src/main/host/compareWorker.ts'),
          recordWorker: resolve('src/main/scaleOut/recordWorker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // A sandboxed preload must be one CommonJS file with its dependencies inside.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    plugins: [svelte({ configFile: resolve('svelte.config.js') }), cspMeta()],
    build: {
      outDir: resolve('out/renderer'),
      rollupOptions: { input: resolve('src/renderer/index.html') },
    },
  },
});
