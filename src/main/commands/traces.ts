/** `vrft traces`: a GRPO run's rollouts as the Traces view shows them, for scripts and terminals. */
import path from 'node:path';
import { grpoRun, traceGroup } from '../host/traceHandlers';
import { defaultDataDir } from '../host/paths';
import { stepPrompts, traceSteps, traceWarnings, type TraceWarning } from '../store/traces';
import { inWorkspace, UsageError, wholeNumber, type Command, type Values } from './command';

const fixed = (n: number | null, digits = 3) => (n === null ? '–' : n.toFixed(digits));
const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(3)}`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // Words read from the left, figures from the right.
  const left = (i: number) => header[i] === 'prompt' || header[i] === 'warnings';
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function warningsByStep(warnings: TraceWarning[]): Map<number, string[]> {
  const by = new Map<number, string[]>();
  for (const w of warnings) by.set(w.step, [...(by.get(w.step) ?? []), w.kind]);
  return by;
}

async function tracesRun(values: Values, positionals: string[]): Promise<number> {
  const runId = Number(positionals[0]);
  if (!Number.isInteger(runId) || runId <= 0)
    throw new UsageError('give a GRPO run id: vrft traces RUN [--step N] [--prompt KEY]');
  if (values.prompt !== undefined && values.step === undefined)
    throw new UsageError('--prompt needs --step: the group of a prompt is the one sampled at a step');
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const out = await inWorkspace(dataDir, (db) => {
    grpoRun(db, runId);
    if (values.step === undefined) {
      const steps = traceSteps(db, runId);
      const warnings = traceWarnings(db, runId);
      if (values.json) return JSON.stringify({ runId, steps, warnings });
      if (steps.length === 0) return `Run ${runId} has no rollouts yet.\n`;
      const by = warningsByStep(warnings);
      const text = table(
        [
          'step',
          'prompts',
          'rollouts',
          'reward',
          'std',
          'zero-std',
          'format fail',
          'truncated',
          'tokens',
          'warnings',
        ],
        steps.map((s) => [
          String(s.step),
          String(s.prompts),
          String(s.rollouts),
          fixed(s.meanReward),
          fixed(s.rewardStd),
          String(s.zeroStdGroups),
          String(s.formatFailures),
          String(s.truncated),
          fixed(s.meanTokens, 1),
          (by.get(s.step) ?? []).join(', '),
        ]),
      );
      const notes = warnings.map((w) => `step ${w.step}: ${w.kind}: ${w.message}`).join('\n');
      return notes ? `${text}\n${notes}\n` : text;
    }
    const step = wholeNumber(values, 'step');
    if (typeof values.prompt !== 'string') {
      const prompts = stepPrompts(db, runId, step);
      if (values.json) return JSON.stringify({ runId, step, prompts });
      if (prompts.length === 0) return `Run ${runId} has no rollouts at step ${step}.\n`;
      return table(
        ['prompt', 'image', 'rollouts', 'reward', 'std', 'best adv', 'worst adv', 'format fail'],
        prompts.map((p) => [
          p.promptKey,
          String(p.imageId ?? '–'),
          String(p.rollouts),
          fixed(p.meanReward),
          fixed(p.rewardStd),
          signed(p.bestAdvantage),
          signed(p.worstAdvantage),
          String(p.formatFailures),
        ]),
      );
    }
    const group = traceGroup(db, runId, step, values.prompt);
    if (values.json) return JSON.stringify(group);
    const names = Object.keys(group.weights);
    const head = `Run ${runId}, step ${step}, ${group.promptKey}\n${group.prompt}\n\n`;
    const rows = group.rollouts.map((r) => [
      String(r.sampleIndex),
      ...names.map((n) => fixed(r.rewards[n] ?? null)),
      fixed(r.reward),
      signed(r.advantage),
      fixed(r.meanLogprob),
      String(r.tokens),
      r.truncated ? 'yes' : 'no',
    ]);
    const completions = group.rollouts.map((r) => `#${r.sampleIndex}: ${r.completion}`).join('\n');
    return `${head}${table(['sample', ...names, 'total', 'advantage', 'log-prob', 'tokens', 'truncated'], rows)}\n${completions}\n`;
  });
  process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
  return 0;
}

export const tracesCommand: Command = {
  summary: "a GRPO run's rollouts: per-step summary, one step's prompts, or one prompt's group",
  usage: 'vrft traces RUN [--step N] [--prompt KEY] [--data DIR] [--json]',
  flags: {
    step: { type: 'string' },
    prompt: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 1,
  run: tracesRun,
};
