/** How the run lists say things: names, durations, times, figures. */
import type { RunSummary, RunTask } from '../../../shared/contract';
import type { ScaleOutSummary } from '../../../shared/scaleOutContract';
import { formatDuration } from './curves';

/** The user's name, or "SFT 7" / "Eval 9". */
export function runLabel(run: Pick<RunSummary, 'id' | 'name' | 'kind'>): string {
  if (run.name) return run.name;
  return `${run.kind === 'eval' ? 'Eval' : run.kind.toUpperCase()} ${run.id}`;
}

/** How long a run has taken so far (or took): "4m12s"; '' before it started. */
export function runDuration(run: Pick<RunSummary, 'startedAt' | 'finishedAt'>, now = Date.now()): string {
  if (run.startedAt === null) return '';
  return formatDuration(((run.finishedAt ?? now) - run.startedAt) / 1000);
}

/** "14:05" today, "3 Dec 14:05" before. */
export function startTime(ms: number, now = new Date()): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === now.toDateString()
    ? time
    : `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} ${time}`;
}

/** The figures the list shows of a run's last step, in this order, with short names. */
export const headlineMetrics: [key: string, label: string][] = [
  ['reward', 'reward'],
  ['loss', 'loss'],
  ['kl', 'kl'],
  ['answered', 'answered'],
];

export function formatFigure(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? value.toExponential(2) : Number(value.toPrecision(4)).toString();
}

/** The metrics a chart of training shows, in the order they are listed, for runs of any method. */
export const chartedMetrics = [
  'reward',
  'reward_std',
  'frac_reward_zero_std',
  'loss',
  'kl',
  'entropy',
  'completions/mean_length',
  'clip_ratio/region_mean',
  'clip_ratio/low_mean',
  'clip_ratio/high_mean',
  'learning_rate',
  'grad_norm',
];

/** Charted first in that order, then each reward component, then whatever else was logged. */
export function orderMetricKeys(keys: Iterable<string>): string[] {
  const all = [...new Set(keys)].filter((k) => !k.startsWith('time/') && !k.startsWith('warnings/'));
  const rank = (k: string) => {
    const i = chartedMetrics.indexOf(k);
    if (i >= 0) return i;
    if (/^rewards\/[^/]+\/mean$/.test(k)) return 100;
    if (k.startsWith('rewards/')) return 200;
    return 300;
  };
  return all.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** What each task is called where a run says which it is. */
export const taskNames: Record<RunTask, string> = {
  detection: 'detection',
  classification: 'classification',
  rec: 'REC',
};

/** What a run's evaluation figure measures, for its tooltip. */
export const figureMeaning: Record<NonNullable<RunSummary['evaluation']>['figureName'], string> = {
  AP50: 'AP50: average precision of the boxes at IoU ≥ 0.5 (detection)',
  accuracy: 'Accuracy: share of images whose label the model named (classification)',
  'Acc@0.5': 'Acc@0.5: share of referring expressions whose box the model found at IoU > 0.5 (REC)',
};

/** Where a cluster run trains: "8 GPUs · ZeRO-3 · vLLM". */
export const clusterSetup = (s: ScaleOutSummary): string =>
  [
    `${s.gpus} GPU${s.gpus === 1 ? '' : 's'}`,
    ...(s.deepspeed === 'none' ? [] : [s.deepspeed === 'zero2' ? 'ZeRO-2' : 'ZeRO-3']),
    ...(s.vllm ? ['vLLM'] : []),
  ].join(' · ');
