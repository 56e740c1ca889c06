// Chart budgets: 10 runs × 10,000 steps drawn < 100 ms, and live updates without dropping frames.
//   - in Node: reading the 10 runs' series from SQLite as `runs.series` does (metricSeries);
//   - in Debian's Chromium: the Curves component's path (align, smooth, uPlot draw), then one new
//     point per run per frame for 120 frames, counting frames slower than 1/60 s (+4 ms).
// Prints figures; asserts nothing. Usage: node bench/ts.js bench/curves.ts
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'vite';
import { openStore, workspaceDbPath } from '../src/main/store/db';
import { createRun, insertMetrics, metricSeries, type MetricPoint } from '../src/main/store/runs';
import { launchBrowser } from '../test/e2e/support/env';

const runs = 10;
const steps = 10_000;
const keys = ['reward', 'loss', 'kl', 'learning_rate'];

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-curves-'));
try {
  const db = openStore(workspaceDbPath(dir));
  const ids: number[] = [];
  for (let r = 0; r < runs; r++) {
    const id = createRun(db, { kind: 'grpo', config: { steps } });
    const rows: MetricPoint[] = [];
    for (let s = 1; s <= steps; s++)
      for (const key of keys) rows.push({ step: s, key, value: Math.random() });
    insertMetrics(db, id, rows);
    ids.push(id);
  }
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    for (const id of ids) metricSeries(db, id);
    times.push(performance.now() - t);
  }
  db.close();
  console.log(
    `runs.series, ${runs} runs × ${steps} steps × ${keys.length} metrics: ${Math.min(...times).toFixed(0)} ms (best of 5)`,
  );

  const outDir = path.join(dir, 'page');
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      lib: { entry: path.resolve('bench/pages/curves.ts'), formats: ['iife'], name: 'benchCurves' },
      outDir,
      emptyOutDir: true,
      minify: true,
    },
  });
  const script = readFileSync(path.join(outDir, 'vrft.iife.js'), 'utf8');
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1000, height: 400 } });
  await page.setContent('<!doctype html><body></body>');
  await page.addScriptTag({ content: script });
  for (let i = 0; i < 4; i++) {
    // The last pass draws the raw lines too, as the component does for short lines: what it costs.
    const withRaw = i === 3;
    const r = await page.evaluate(
      ([n, s, raw]) => window.benchCurves(n as number, s as number, 120, raw as boolean),
      [runs, steps, withRaw] as const,
    );
    console.log(
      `Chromium${withRaw ? ' (raw lines too)' : ''}: ${runs} runs × ${steps} steps aligned + smoothed ${r.prepareMs!.toFixed(1)} ms, drawn ${r.drawnMs!.toFixed(1)} ms; ` +
        `live: update ${r.liveMedianWorkMs!.toFixed(1)} ms (median), frame median ${r.liveMedianFrameMs!.toFixed(1)} ms, p95 ${r.liveP95FrameMs!.toFixed(1)} ms, ` +
        `${r.liveDroppedFrames} of 120 frames late (idle control: ${r.idleDroppedFrames} of 60 late)`,
    );
  }
  await browser.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
