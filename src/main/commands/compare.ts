import path from 'node:path';
import {
  accuracyFigures,
  detectionFigures,
  pairedBootstrap,
  type BootstrapInterval,
  type DetectionOutcome,
  type FiguresOf,
  type Interval,
} from '../eval/bootstrap';
import { recHit } from '../eval/metrics';
import { defaultDataDir } from '../host/paths';
import { listDatasetAnnotations } from '../store/annotations';
import { listCategories } from '../store/categories';
import { openStore, workspaceDbPath, type Db } from '../store/db';
import { latestEvaluationOfRun, listPredictions, type Evaluation } from '../store/evaluations';
import { getRun } from '../store/runs';
import { listSplitImageIds, splitDatasetId } from '../store/splits';
import { UsageError, wholeNumber, type Command, type Values } from './command';

export interface ComparedColumn {
  label: string;
  runId: number;
  evaluation: Evaluation;
}

/** One figure of one category (or the mean) in one column; −1 where there is nothing to measure. */
export interface Cell {
  /** AP50 for detection, accuracy for classification, Acc@0.5 for REC. */
  primary: number;
  /** AP@[.5:.95] for detection. */
  secondary?: number;
}

/** How sure Δ (the last column − an earlier one) is, or why it could not be measured. */
export type DeltaInterval = { from: string; to: string } & (BootstrapInterval | { unavailable: string });

export interface Comparison {
  metric: EvaluationMetric;
  columns: { label: string; runId: number }[];
  categories: Record<string, Record<string, Cell>>;
  mean: Record<string, Cell>;
  /**
   * One per earlier column, in column order: Δ of the last column against it (RFT − base and
   * RFT − SFT for an experiment), with its bootstrap interval.
   */
  intervals?: DeltaInterval[];
}

type EvaluationMetric = 'detection' | 'classification' | 'rec';

/** What an evaluation measured, from the metrics it stored. */
export const metricOf = (e: Evaluation): EvaluationMetric =>
  e.metrics.acc50 !== undefined ? 'rec' : e.metrics.accuracy !== undefined ? 'classification' : 'detection';
const isClassification = (e: Evaluation) => metricOf(e) === 'classification';

function cellOf(e: Evaluation, category?: string): Cell {
  if (metricOf(e) === 'rec')
    return { primary: category === undefined ? e.metrics.acc50! : (e.perCategory[category]?.acc50 ?? -1) };
  if (isClassification(e)) {
    return {
      primary: category === undefined ? e.metrics.accuracy! : (e.perCategory[category]?.accuracy ?? -1),
    };
  }
  const c = category === undefined ? { ap50: e.metrics.AP50, ap: e.metrics.AP } : e.perCategory[category];
  return { primary: c?.ap50 ?? -1, secondary: c?.ap ?? -1 };
}

interface EvaluatedSplit {
  datasetId: number;
  imageIds: number[];
  names: Map<number, string>;
}

/** Each one-label image's outcome (its row holds its label and score 1 when the answer named it). */
function classificationOutcomes(db: Db, e: Evaluation, split: EvaluatedSplit) {
  const byImage = new Map(listPredictions(db, e.id).map((p) => [p.imageId, p]));
  return split.imageIds
    .filter((id) => byImage.has(id))
    .map((id) => {
      const p = byImage.get(id)!;
      return { imageId: id, label: split.names.get(p.categoryId ?? -1) ?? '', correct: p.score === 1 };
    });
}

/**
 * Each answered expression's outcome, in the order they were stored (its row holds the box's
 * category and its IoU as the score).
 */
function recOutcomes(db: Db, e: Evaluation, split: EvaluatedSplit) {
  const inSplit = new Set(split.imageIds);
  return listPredictions(db, e.id)
    .filter((p) => inSplit.has(p.imageId))
    .map((p) => ({
      imageId: p.imageId,
      label: split.names.get(p.categoryId ?? -1) ?? '',
      correct: recHit(p.score ?? 0),
    }));
}

/** Each evaluation image's ground truth and the evaluation's boxes on it, in image-id order. */
function detectionOutcomes(db: Db, e: Evaluation, split: EvaluatedSplit): DetectionOutcome[] {
  const outcomes = new Map<number, DetectionOutcome>(
    split.imageIds.map((id) => [id, { truth: [], detections: [] }]),
  );
  for (const t of listDatasetAnnotations(db, split.datasetId))
    outcomes.get(t.imageId)?.truth.push({ category: split.names.get(t.categoryId)!, box: t, crowd: t.crowd });
  for (const p of listPredictions(db, e.id)) {
    const category = split.names.get(p.categoryId ?? -1);
    if (p.box !== null && category !== undefined)
      outcomes.get(p.imageId)?.detections.push({ category, box: p.box, score: p.score ?? 0 });
  }
  return [...outcomes.values()];
}

/**
 * An evaluation's figure (AP50 or accuracy) on any draw of its images, from its stored predictions;
 * undefined when it was not of a split. The identity draw gives the evaluation's own figures.
 */
export function evaluationFigures(
  db: Db,
  e: Evaluation,
): { imageIds: number[]; figures: FiguresOf } | undefined {
  const datasetId = e.splitId === null ? undefined : splitDatasetId(db, e.splitId);
  if (datasetId === undefined) return undefined;
  const split = {
    datasetId,
    imageIds: listSplitImageIds(db, e.splitId!),
    names: new Map(listCategories(db, datasetId).map((c) => [c.id, c.name])),
  };
  if (metricOf(e) === 'rec') {
    // Drawn by expression, as Acc@0.5 counts them: an image with three is three draws.
    const outcomes = recOutcomes(db, e, split);
    return { imageIds: outcomes.map((o) => o.imageId), figures: accuracyFigures(outcomes) };
  }
  if (isClassification(e)) {
    const outcomes = classificationOutcomes(db, e, split);
    return { imageIds: outcomes.map((o) => o.imageId), figures: accuracyFigures(outcomes) };
  }
  const figures = detectionFigures(detectionOutcomes(db, e, split), Object.keys(e.perCategory));
  return { imageIds: split.imageIds, figures };
}

/**
 * The paired-bootstrap interval of Δ (last − first) over the evaluation images, when both
 * evaluations asked the same questions about the same images; otherwise why not.
 */
export function deltaInterval(
  db: Db,
  [first, last]: [ComparedColumn, ComparedColumn],
  options: { resamples: number; seed?: number },
): DeltaInterval {
  const head = { from: first.label, to: last.label };
  const [a, b] = [first.evaluation, last.evaluation];
  const asked = (e: Evaluation) => Object.keys(e.perCategory).sort().join('\n');
  const [fa, fb] = [evaluationFigures(db, a), evaluationFigures(db, b)];
  if (
    !fa ||
    !fb ||
    a.splitId !== b.splitId ||
    metricOf(a) !== metricOf(b) ||
    asked(a) !== asked(b) ||
    fa.imageIds.join() !== fb.imageIds.join() ||
    fa.imageIds.length === 0
  )
    return {
      ...head,
      unavailable: 'the two evaluations did not ask the same questions about the same images',
    };
  return { ...head, ...pairedBootstrap(fa.imageIds.length, fa.figures, fb.figures, options) };
}

export function compare(columns: ComparedColumn[], intervals?: DeltaInterval[]): Comparison {
  const names = [...new Set(columns.flatMap((c) => Object.keys(c.evaluation.perCategory)))];
  const categories: Comparison['categories'] = {};
  for (const name of names)
    categories[name] = Object.fromEntries(columns.map((c) => [c.label, cellOf(c.evaluation, name)]));
  return {
    metric: columns.every((c) => metricOf(c.evaluation) === metricOf(columns[0]!.evaluation))
      ? metricOf(columns[0]!.evaluation)
      : 'detection',
    columns: columns.map(({ label, runId }) => ({ label, runId })),
    categories,
    mean: Object.fromEntries(columns.map((c) => [c.label, cellOf(c.evaluation)])),
    ...(intervals && { intervals }),
  };
}

/** The comparison of `columns`, with Δ's bootstrap interval unless `resamples` is 0. */
export function compareInWorkspace(db: Db, columns: ComparedColumn[], resamples: number): Comparison {
  const last = columns.at(-1)!;
  const intervals =
    resamples > 0
      ? columns.slice(0, -1).map((column) => deltaInterval(db, [column, last], { resamples }))
      : undefined;
  return compare(columns, intervals);
}

/** `--resamples`: how many bootstrap draws the Δ interval takes (0: none). */
export const resamplesFlag = { resamples: { type: 'string' } } as const;
export const resamplesOf = (values: Values) => wholeNumber(values, 'resamples', 1000);

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
  const last = labels.at(-1)!;
  // One Δ column per earlier column (for two runs, one), each with its interval where measured.
  const against = labels.slice(0, -1).map((label, i) => {
    const interval = c.intervals?.[i];
    return { label, measured: interval && 'mean' in interval ? interval : undefined };
  });
  const delta = (row: Record<string, Cell>, from: string, interval: Interval | undefined) => {
    const a = row[from];
    const b = row[last];
    if (!a || !b || a.primary < 0 || b.primary < 0) return '–';
    const second =
      a.secondary !== undefined && b.secondary !== undefined ? ` (${signed(b.secondary - a.secondary)})` : '';
    const range =
      interval && Number.isFinite(interval.low) ? ` [${signed(interval.low)}, ${signed(interval.high)}]` : '';
    return `${signed(b.primary - a.primary)}${second}${range}`;
  };
  const deltas = (row: Record<string, Cell>, pick: (m: BootstrapInterval) => Interval | undefined) =>
    against.map(({ label, measured }) => delta(row, label, measured && pick(measured)));
  const body = [
    ...Object.entries(c.categories)
      .filter(([, row]) => Object.values(row).some((v) => v.primary >= 0))
      .map(([name, row]) => [
        name,
        ...labels.map((l) => cell(row[l])),
        ...deltas(row, (m) => m.categories[name]),
      ]),
    [
      c.metric === 'classification' ? 'all images' : c.metric === 'rec' ? 'all expressions' : 'all',
      ...labels.map((l) => cell(c.mean[l])),
      ...deltas(c.mean, (m) => m.mean),
    ],
  ];
  const headings = ['category', ...labels, ...against.map(({ label }) => `Δ ${last}−${label}`)];
  // Δ columns as wide as their widest cell, so that several line up.
  const widths = headings.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.trim().length)));
  const line = (row: string[]) =>
    row
      .map((text, i) =>
        i === 0
          ? text.padEnd(16)
          : i <= labels.length
            ? text.trim().padStart(14)
            : `  ${text.padEnd(widths[i]!)}`,
      )
      .join('')
      .trimEnd();
  const header = line(headings);
  const rows = body.slice(0, -1).map(line);
  const mean = line(body.at(-1)!);
  const what = {
    classification: 'accuracy in %, per category',
    rec: 'Acc@0.5 (IoU > 0.5) in %, per category of the expressions',
    detection: 'AP50 (AP@[.5:.95]) in %, per category',
  }[c.metric];
  const runs = c.columns.map((x) =>
    x.label.endsWith(` ${x.runId}`)
      ? `run ${x.runId} (${x.label.split(' ')[0]})`
      : `${x.label} = run ${x.runId}`,
  );
  const figure = { classification: 'accuracy', rec: 'Acc@0.5', detection: 'AP50' }[c.metric];
  const note = (c.intervals ?? []).map((interval) =>
    'unavailable' in interval
      ? `no interval for Δ ${interval.to}−${interval.from}: ${interval.unavailable}`
      : `Δ ${interval.to}−${interval.from} ${figure}: ${signed(interval.mean.low)} to ${signed(interval.mean.high)} ` +
        `(${Math.round(100 * interval.level)} % paired bootstrap interval over the ${interval.images} evaluation ` +
        `${c.metric === 'rec' ? 'expressions' : 'images'}, ${interval.resamples} draws)${interval.mean.low > 0 || interval.mean.high < 0 ? ', excludes 0' : ', includes 0'}`,
  );
  if (note.some((n) => n.startsWith('Δ')))
    note.push('an interval that excludes 0 is not the luck of which images were evaluated');
  return [`${what}; ${runs.join(', ')}`, header, ...rows, mean, ...note, ''].join('\n');
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
    const comparison = compareInWorkspace(db, columns, resamplesOf(values));
    process.stdout.write(values.json ? `${JSON.stringify(comparison)}\n` : formatComparison(comparison));
    return 0;
  } finally {
    db.close();
  }
}

export const compareCommand: Command = {
  summary: 'per-category AP (or accuracy) of runs side by side (their newest evaluations)',
  usage: 'vrft compare RUN_A RUN_B [RUN…] [--resamples N] [--data DIR] [--json]',
  flags: { data: { type: 'string' }, json: { type: 'boolean' }, ...resamplesFlag },
  positionals: 8,
  run: compareCommandRun,
};
