// Tries GRPO recipes for `vrft experiment --demo` and prints each one's figures, for the table in
// bench/demo-recipes.md. The first call runs the whole demo in WORKSPACE (base evaluation, SFT, GRPO
// with today's recipe); each recipe then trains GRPO again on the same split with its settings laid
// over that run's config, is evaluated the same way, and is compared with the same base and SFT
// runs (RFT − base and RFT − SFT, 95 % paired-bootstrap intervals).
// Usage: npm run build && node bench/demo-recipes.js WORKSPACE RECIPES.json [--steps N] [--rft RUN]
//   RECIPES.json: {"name": {grpo settings…}, …}; {} runs only the demo itself. An entry
//   {"sft": {sft settings…}} trains SFT instead and compares it with the GRPO run --rft names (so
//   that SFT gets its own search too).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

const [workspace, recipesFile] = process.argv.slice(2);
const stepsAt = process.argv.indexOf('--steps');
const steps = stepsAt > 0 ? process.argv[stepsAt + 1] : '200';
const rftAt = process.argv.indexOf('--rft');
if (!workspace || !recipesFile) {
  console.error('usage: node bench/demo-recipes.js WORKSPACE RECIPES.json [--steps N]');
  process.exit(2);
}
const recipes = JSON.parse(readFileSync(recipesFile, 'utf8'));

function vrft(...args) {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['bin/vrft.js', ...args, '--data', workspace], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`vrft ${args.join(' ')}: ${r.stderr.split('\n').slice(-5).join('\n')}`);
  return { stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

const pct = (v) => (100 * v).toFixed(1);
const signed = (v) => `${v >= 0 ? '+' : ''}${pct(v)}`;
function row(name, seconds, comparison) {
  const ap = comparison.columns.map((c) => pct(comparison.mean[c.label].primary));
  const intervals = comparison.intervals.map((i) =>
    'mean' in i ? `[${signed(i.mean.low)}, ${signed(i.mean.high)}]` : i.unavailable,
  );
  console.log(`| ${name} | ${seconds.toFixed(0)} s | ${ap.join(' / ')} | ${intervals.join(' | ')} |`);
}

const db = () => new Database(path.join(workspace, 'vrft.sqlite'), { readonly: true });
let demo = (() => {
  if (!existsSync(path.join(workspace, 'vrft.sqlite'))) return undefined;
  const d = db();
  try {
    const last = d.prepare("SELECT id, config FROM run WHERE kind = 'grpo' ORDER BY id LIMIT 1").get();
    return last ? { rft: last.id, config: JSON.parse(last.config) } : undefined;
  } catch {
    return undefined;
  } finally {
    d.close();
  }
})();
console.log('| recipe | wall | AP50 base / SFT / RFT | RFT − base | RFT − SFT |');
console.log('|---|---|---|---|---|');
if (!demo) {
  const run = vrft('experiment', '--demo', '--steps', steps, '--json');
  const result = JSON.parse(run.stdout);
  row('demo (the default recipe, whole experiment)', run.seconds, result.comparison);
  const d = db();
  demo = {
    rft: result.runs.rft,
    config: JSON.parse(d.prepare('SELECT config FROM run WHERE id = ?').get(result.runs.rft).config),
  };
  d.close();
}
const d = db();
const first = (kind) => d.prepare('SELECT id, config FROM run WHERE kind = ? ORDER BY id LIMIT 1').get(kind);
const [base, sft] = [first('eval').id, first('sft').id];
const sftConfig = JSON.parse(first('sft').config);
d.close();
for (const [name, settings] of Object.entries(recipes)) {
  const method = settings.sft ? 'sft' : 'grpo';
  if (method === 'sft' && rftAt < 0) throw new Error('an SFT entry needs --rft RUN to compare with');
  const config = method === 'sft' ? { ...sftConfig, ...settings.sft } : { ...demo.config, ...settings };
  const file = path.join(workspace, `recipe-${name.replace(/\W+/g, '_')}.json`);
  writeFileSync(file, JSON.stringify(config));
  const trained = vrft('train', '--method', method, '--config', file);
  const runId = Number(/^run (\d+):/m.exec(trained.stderr)[1]);
  const evaluated = vrft('eval', '--run', String(runId), '--json');
  const columns = method === 'sft' ? [base, runId, Number(process.argv[rftAt + 1])] : [base, sft, runId];
  const compared = JSON.parse(vrft('compare', ...columns.map(String), '--json').stdout);
  row(`${name} ${JSON.stringify(settings)}`, trained.seconds + evaluated.seconds, compared);
}
