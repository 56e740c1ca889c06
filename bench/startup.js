// Startup budget: `vrft serve` ready (URL printed) < 1.5 s; first paint in Chromium < 1 s after
// navigation. Prints figures; it asserts nothing. Usage: npm run build && node bench/startup.js [runs]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { chromiumFlags, chromiumPath } from '../test/e2e/support/chromium.js';

const runs = Number(process.argv[2] ?? 7);

function startServe(dataDir) {
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/vrft.js', 'serve', '--data', dataDir]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /(http:\/\/\S+)/.exec(out)?.[1];
      if (url) resolve({ child, url, readyMs: performance.now() - started });
    });
    child.on('exit', (code) => reject(new Error(`vrft serve exited ${code}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

function summary(label, values, budget) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const verdict = median < budget ? 'within' : 'OVER';
  console.log(
    `${label}: median ${median.toFixed(0)} ms, min ${sorted[0].toFixed(0)}, max ${sorted.at(-1).toFixed(0)} ` +
      `(${values.length} runs; budget ${budget} ms: ${verdict})`,
  );
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-'));
const browser = await chromium.launch({
  executablePath: chromiumPath(),
  args: chromiumFlags,
});
const ready = [];
const firstPaint = [];
const appReady = [];
try {
  for (let i = 0; i < runs; i += 1) {
    const { child, url, readyMs } = await startServe(dataDir);
    ready.push(readyMs);
    const context = await browser.newContext();
    const page = await context.newPage();
    const navStart = performance.now();
    await page.goto(url);
    await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    await page.locator('[data-testid="datasets"], [data-testid="empty"]').first().waitFor();
    appReady.push(performance.now() - navStart);
    const fcp = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
    );
    firstPaint.push(fcp);
    await context.close();
    await stop(child);
  }
} finally {
  await browser.close();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(
  `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);
summary('vrft serve ready (spawn → URL printed)', ready, 1500);
summary('first contentful paint after navigation', firstPaint, 1000);
summary('datasets listed and connected after navigation', appReady, 1000);
