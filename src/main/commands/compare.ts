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

export interface Comparison {
  columns: { label: string; runId: number }[];
  /** Per category, per column label: AP@[.5:.95] and AP50 (−1 where there is no ground truth). */
  categories: Record<string, Record<string, { ap: number; ap50: number }>>;
  mean: Record<string, { ap: number; ap50: number }>;
}

export function compare(columns: ComparedColumn[]): Comparison {
  const names = [...new Set(columns.flatMap((c) => Object.keys(c.evaluation.perCategory)))];
  const categories: Comparison['categories'] = {};
  for (const name of names) {
    categories[name] = Object.fromEntries(
      columns.map((c) => [
        c.label,
        { ap: c.evaluation.perCategory[name]?.ap ?? -1, ap50: c.evaluation.perCategory[name]?.ap50 ?? -1 },
      ]),
    );
  }
  const mean = Object.fromEntries(
    columns.map((c) => [
      c.label,
      { ap: c.evaluation.metrics.AP ?? -1, ap50: c.evaluation.metrics.AP50 ?? -1 },
    ]),
  );
  return { columns: columns.map(({ label, runId }) => ({ label, runId })), categories, mean };
}

/** A Visual-RFT-style table: one row per category, AP50 (AP) per column, then Δ last − first. */
export function formatComparison(c: Comparison): string {
  const labels = c.columns.map((x) => x.label);
  const cell = (v: { ap: number; ap50: number } | undefined) =>
    !v || v.ap50 < 0
      ? '–'.padStart(14)
      : `${(100 * v.ap50).toFixed(1)} (${(100 * v.ap).toFixed(1)})`.padStart(14);
  const delta = (row: Record<string, { ap: number; ap50: number }>) => {
    const a = row[labels[0]!];
    const b = row[labels.at(-1)!];
    if (!a || !b || a.ap50 < 0 || b.ap50 < 0) return '  –';
    const d = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
    return `  ${d(b.ap50 - a.ap50)} (${d(b.ap - a.ap)})`;
  };
  const header = `${'category'.padEnd(16)}${labels.map((l) => l.padStart(14)).join('')}  Δ ${labels.at(-1)}−${labels[0]}`;
  const rows = Object.entries(c.categories)
    .filter(([, row]) => Object.values(row).some((v) => v.ap50 >= 0))
    .map(([name, row]) => `${name.padEnd(16)}${labels.map((l) => cell(row[l])).join('')}${delta(row)}`);
  const mean = `${'mean'.padEnd(16)}${labels.map((l) => cell(c.mean[l])).join('')}${delta(c.mean)}`;
  const runs = c.columns.map((x) =>
    x.label.endsWith(` ${x.runId}`)
      ? `run ${x.runId} (${x.label.split(' ')[0]})`
      : `${x.label} = run ${x.runId}`,
  );
  return [`AP50 (AP@[.5:.95]) in %, per category; ${runs.join(', ')}`, header, ...rows, mean, ''].join('\n');
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
  summary: 'per-category AP of runs side by side (their newest evaluations)',
  usage: 'vrft compare RUN_A RUN_B [RUN…] [--data DIR] [--json]',
  flags: { data: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 8,
  run: compareCommandRun,
};
