// The reward server's budget (issue 24): ≥ 5,000 detection completions/s per batch of 64 on one
// core, recording adding < 10 %. A batch is 64 Visual-RFT answers (3 boxes each, against 1–4
// ground-truth boxes) posted over loopback HTTP the way the exported project's client posts them.
// Compared: vrft's rewards in-process (no HTTP), the server scoring without recording (each batch
// half of a two-process round that never completes), and the server recording each batch as a
// whole round (rollouts + metrics in one transaction, written by the record worker's thread).
// Server and client share one thread, so the figures are a lower bound for one core. Prints figures; asserts nothing.
// Usage: npm run build && node bench/ts.js bench/reward-server.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { scoreCompletion } from '../src/main/rewards/registry';
import { readPlan, type PlannedSample } from '../src/main/scaleOut/plan';
import { startRewardServer } from '../src/main/scaleOut/server';
import { openStore, workspaceDbPath } from '../src/main/store/db';
import { countRollouts } from '../src/main/store/rollouts';

const batch = 64;
const batches = 300;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-reward-server-'));
const data = path.join(dir, 'ws');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['bin/vrft.js', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
};
run(
  'synth',
  '--task',
  'detection',
  '--images',
  '40',
  '--seed',
  '1',
  '--size',
  '128',
  '--out',
  path.join(dir, 'sw'),
);
run(
  'import',
  path.join(dir, 'sw', 'annotations.json'),
  '--dataset',
  'shapes',
  '--format',
  'coco',
  '--data',
  data,
);
const config = path.join(dir, 'grpo.json');
writeFileSync(
  config,
  JSON.stringify({
    dataset: 'shapes',
    model: 'Qwen/Qwen2-VL-2B-Instruct',
    steps: 100,
    promptsPerStep: 8,
    numGenerations: 8,
  }),
);
const { runId, out } = JSON.parse(
  run('scale-out', 'export', '--config', config, '--out', path.join(dir, 'p'), '--data', data, '--json'),
) as { runId: number; out: string };
const plan = readPlan(data, runId);
const token = (JSON.parse(readFileSync(path.join(out, 'reward.json'), 'utf8')) as { token: string }).token;

// Answers near the truth: each ground-truth box jittered, plus a spurious one, confidence 0.8.
const positives = plan.samples.filter((s) => s.solution.boxes!.length > 0);
function answer(s: PlannedSample, k: number): string {
  const { width, height } = s.context.image;
  const n = (v: number, extent: number) =>
    Math.max(0, Math.min(1000, Math.round((v / extent) * 1000 + ((k * 7) % 11) - 5)));
  const boxes = [...s.solution.boxes!.slice(0, 2), { x1: 0, y1: 0, x2: width / 3, y2: height / 3 }].map(
    (b) =>
      `{'Position': [${n(b.x1, width)}, ${n(b.y1, height)}, ${n(b.x2, width)}, ${n(b.y2, height)}], 'Confidence': 0.8}`,
  );
  return `<think>The objects are where the boxes say.</think> <answer>[${boxes.join(', ')}]</answer>`;
}
const items = (b: number) =>
  Array.from({ length: batch }, (_, i) => {
    const s = positives[(b * 8 + Math.floor(i / 8)) % positives.length]!;
    return { sample_id: s.sampleId, completion: answer(s, b * batch + i), tokens: 60, truncated: false };
  });
const bodies = Array.from({ length: batches }, (_, b) => items(b));
const samples = new Map(plan.samples.map((s) => [s.sampleId, s]));

function inProcess(): number {
  const t = performance.now();
  for (const body of bodies)
    for (const item of body) {
      const s = samples.get(item.sample_id)!;
      scoreCompletion(item.completion, s.solution, s.context, plan.rewards);
    }
  return performance.now() - t;
}

const db = openStore(workspaceDbPath(data));
const server = await startRewardServer(db, plan, {
  host: '127.0.0.1',
  port: 0,
  recordWorker: path.resolve('out/main/recordWorker.js'),
});
async function overHttp(record: boolean, offset: number): Promise<number> {
  const t = performance.now();
  for (let b = 0; b < bodies.length; b++) {
    const r = await fetch(`${server.url}/v1/score`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ step: offset + b, process: 0, processes: record ? 1 : 2, items: bodies[b] }),
    });
    if (r.status !== 200) throw new Error(await r.text());
    await r.json();
  }
  return performance.now() - t;
}

const rate = (ms: number) => Math.round((batches * batch) / (ms / 1000));
await overHttp(false, 1_000_000); // warm up
inProcess();
const rounds = 3;
const figures = {
  inProcess: [] as number[],
  served: [] as number[],
  recorded: [] as number[],
  written: [] as number[],
};
for (let r = 0; r < rounds; r++) {
  figures.inProcess.push(rate(inProcess()));
  figures.served.push(rate(await overHttp(false, 2_000_000 + r * batches)));
  const t = performance.now();
  figures.recorded.push(rate(await overHttp(true, r * batches)));
  await server.flushed();
  figures.written.push(rate(performance.now() - t));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${batches} batches of ${batch} detection completions, ${rounds} rounds (median):`);
console.log(
  `  vrft's rewards in-process        ${median(figures.inProcess)} completions/s (${(1e6 / median(figures.inProcess)).toFixed(1)} µs each)`,
);
console.log(`  reward server, not recording     ${median(figures.served)} completions/s`);
console.log(`  reward server, recording         ${median(figures.recorded)} completions/s`);
console.log(
  `  recording adds                   ${((median(figures.served) / median(figures.recorded) - 1) * 100).toFixed(1)} %`,
);
console.log(
  `  until every rollout is in SQLite ${median(figures.written)} completions/s (the record worker's thread)`,
);
console.log(
  `  (rollouts recorded: ${countRollouts(db, runId)}; cores: ${os.cpus().length}, load ${os.loadavg()[0]!.toFixed(1)})`,
);
await server.close();
db.close();
rmSync(dir, { recursive: true, force: true });
