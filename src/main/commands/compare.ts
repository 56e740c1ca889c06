import path from 'node:path';
import { defaultDataDir } from '../host/paths';
import { openStore, workspaceDbPath } from '../store/db';
import { latestEvaluationOfRun, type Evaluation } from '../store/evaluations';
import { getRun } from '../store/runs';
import { UsageError, type Command, type Values } from './command';

export interface ComparedColumn {
  label: string;
  runId: number;
  evaluation: Evaluation;
}

/** One figure of one category (or the mean) in one column; −1 where there is nothing to measure. */
export interface Cell {
  /** AP50 for detection, accuracy for classification. */
  primary: number;
  /** AP@[.5:.95] for detection. */
  secondary?: number;
}

export interface Comparison {
  metric: 'detection' | 'classification';
  columns: { label: string; runId: number }[];
  categories: Record<string, Record<string, Cell>>;
  mean: Record<string, Cell>;
}

const isClassification = (e: Evaluation) => e.metrics.accuracy !== undefined;

function cellOf(e: Evaluation, category?: string): Cell {
  if (isClassification(e)) {
    return {
      primary: category === undefined ? e.metrics.accuracy! : (e.perCategory[category]?.accuracy ?? -1),
    };
  }
  const c = category === undefined ? { ap50: e.metrics.AP50, ap: e.metrics.AP } : e.perCategory[category];
  return { primary: c?.ap50 ?? -1, secondary: c?.ap ?? -1 };
}

export function compare(columns: ComparedColumn[]): Comparison {
  const names = [...new Set(columns.flatMap((c) => Object.keys(c.evaluation.perCategory)))];
  const categories: Comparison['categories'] = {};
  for (const name of names)
    categories[name] = Object.fromEntries(columns.map((c) => [c.label, cellOf(c.evaluation, name)]));
  return {
    metric: columns.every((c) => isClassification(c.evaluation)) ? 'classification' : 'detection',
    columns: columns.map(({ label, runId }) => ({ label, runId })),
    categories,
    mean: Object.fromEntries(columns.map((c) => [c.label, cellOf(c.evaluation)])),
  };
}

/** A Visual-RFT-style table: one row per category, the figure per column, then Δ last − first. */
export function formatComparison(c: Comparison): string {
  const labels = c.columns.map((x) => x.label);
  const pct = (v: number) => (100 * v).toFixed(1);
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${pct(v)}`;
  const cell = (v: Cell | undefined) =>
    (!v || v.primary < 0
      ? '–'
      : v.secondary === undefined
        ? pct(v.primary)
        : `${pct(v.primary)} (${pct(v.secondary)})`
    ).padStart(14);
  const delta = (row: Record<string, Cell>) => {
    const a = row[labels[0]!];
    const b = row[labels.at(-1)!];
    if (!a || !b || a.primary < 0 || b.primary < 0) return '  –';
    const second =
      a.secondary !== undefined && b.secondary !== undefined ? ` (${signed(b.secondary - a.secondary)})` : '';
    return `  ${signed(b.primary - a.primary)}${second}`;
  };
  const header = `${'category'.padEnd(16)}${labels.map((l) => l.padStart(14)).join('')}  Δ ${labels.at(-1)}−${labels[0]}`;
  const rows = Object.entries(c.categories)
    .filter(([, row]) => Object.values(row).some((v) => v.primary >= 0))
    .map(([name, row]) => `${name.padEnd(16)}${labels.map((l) => cell(row[l])).join('')}${delta(row)}`);
  const mean = `${(c.metric === 'classification' ? 'all images' : 'all').padEnd(16)}${labels.map((l) => cell(c.mean[l])).join('')}${delta(c.mean)}`;
  const what =
    c.metric === 'classification' ? 'accuracy in %, per category' : 'AP50 (AP@[.5:.95]) in %, per category';
  const runs = c.columns.map((x) =>
    x.label.endsWith(` ${x.runId}`)
      ? `run ${x.runId} (${x.label.split(' ')[0]})`
      : `${x.label} = run ${x.runId}`,
  );
  return [`${what}; ${runs.join(', ')}`, header, ...rows, mean, ''].join('\n');
}

async function compareCommandRun(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length < 2) throw new UsageError('give two or more run ids: vrft compare RUN_A RUN_B');
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const db = openStore(workspaceDbPath(dataDir));
  try {
    const columns = positionals.map((id) => {
      const run = getRun(db, Number(id));
      if (!run) throw new UsageError(`there is no run ${id} in ${dataDir}`);
      const evaluation = latestEvaluationOfRun(db, run.id);
      if (!evaluation)
        throw new UsageError(`run ${id} has no evaluation yet: vrft eval --run ${id} --split NAME`);
      return { label: `${run.kind} ${run.id}`, runId: run.id, evaluation };
    });
    const comparison = compare(columns);
    process.stdout.write(values.json ? `${JSON.stringify(comparison)}\n` : formatComparison(comparison));
    return 0;
  } finally {
    db.close();
  }
}

export const compareCommand: Command = {
  summary: 'per-category AP (or accuracy) of runs side by side (their newest evaluations)',
  usage: 'vrft compare RUN_A RUN_B [RUN…] [--data DIR] [--json]',
  flags: { data: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 8,
  run: compareCommandRun,
};
