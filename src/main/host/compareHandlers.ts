/**
 * The Compare view's services behind the contract (compareContract.ts): the runs' newest
 * evaluations as `vrft compare` tables them, and the evaluation images each run answered, with how
 * much the runs disagree on each.
 */
import { UserError } from '../../shared/errors';
import { iou } from '../../shared/boxes';
import type { AnsweredImage, compareCalls } from '../../shared/compareContract';
import { Worker } from 'node:worker_threads';
import { compareInWorkspace, metricOf, type ComparedColumn, type Comparison } from '../commands/compare';
import { recHit } from '../eval/metrics';
import { builtScript } from '../train/runFiles';
import type { CompareJob } from './compareWorker';
import { listDatasetAnnotations } from '../store/annotations';
import { listCategories } from '../store/categories';
import type { Db } from '../store/db';
import { latestEvaluationOfRun, listAnswers, type Evaluation, type StoredAnswer } from '../store/evaluations';
import { getImage } from '../store/images';
import { getRun } from '../store/runs';
import { getSplit, listSplitImageIds } from '../store/splits';
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';

/** Each run's newest evaluation, in order; a run without one is a message saying what to do. */
function evaluatedColumns(db: Db, runIds: number[], labels?: string[]): ComparedColumn[] {
  return runIds.map((runId, i) => {
    const run = getRun(db, runId);
    if (!run) throw new UserError('not_found', `Run ${runId} does not exist.`);
    const evaluation = latestEvaluationOfRun(db, runId);
    if (!evaluation)
      throw new UserError(
        'invalid_input',
        `Run ${runId} has no evaluation yet: evaluate it from the Train view (Evaluate…), then compare.`,
      );
    const label =
      labels?.[i] ?? (run.name || `${run.kind === 'eval' ? 'eval' : run.kind.toUpperCase()} ${run.id}`);
    return { label, runId, evaluation };
  });
}

/**
 * TP / (TP + FN + FP) of one image's boxes for one run, each category asked matched greedily by
 * score at IoU ≥ 0.5 (1 when there was nothing to find and nothing was found); for classification,
 * whether the answer named the label; for REC, the share of its expressions found (IoU > 0.5, the
 * score of each answer being its IoU). A crowd box is neither a miss nor, for a box on it, a false
 * positive (as COCO's iscrowd).
 */
function imageFigure(
  metric: Comparison['metric'],
  truth: { category: string; box: AnsweredImage['truth'][number]['box']; crowd?: boolean }[],
  answers: { category: string; box: StoredAnswer['box']; score: number | null }[],
): number {
  if (metric === 'classification') return answers.some((a) => a.score === 1) ? 1 : 0;
  if (metric === 'rec')
    return answers.length ? answers.filter((a) => recHit(a.score ?? 0)).length / answers.length : 1;
  const predicted = answers.filter((a) => a.box !== null).sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
  const used = new Set<number>();
  let matched = 0;
  let onCrowd = 0;
  for (const p of predicted) {
    const hit = truth.findIndex(
      (t, i) => !t.crowd && !used.has(i) && t.category === p.category && iou(t.box, p.box!) >= 0.5,
    );
    if (hit >= 0) {
      used.add(hit);
      matched++;
    } else if (truth.some((t) => t.crowd && t.category === p.category && iou(t.box, p.box!) >= 0.5))
      onCrowd++;
  }
  const denominator = truth.filter((t) => !t.crowd).length + predicted.length - onCrowd - matched;
  return denominator === 0 ? 1 : matched / denominator;
}

function answeredImages(db: Db, columns: ComparedColumn[]): { items: AnsweredImage[]; categories: string[] } {
  const first = columns[0]!.evaluation;
  const metric = metricOf(first);
  const splitId = first.splitId;
  const split = splitId === null ? undefined : getSplit(db, splitId);
  if (!split)
    throw new UserError('invalid_input', 'The first run was not evaluated on a split that still exists.');
  const names = new Map(listCategories(db, split.datasetId).map((c) => [c.id, c.name]));
  const imageIds = listSplitImageIds(db, split.id);
  const truth = new Map<number, AnsweredImage['truth']>(imageIds.map((id) => [id, []]));
  // Each truth box's crowd flag, by image in truth's order: the figure needs it, the view does not.
  const crowds = new Map<number, boolean[]>(imageIds.map((id) => [id, []]));
  // REC: the boxes with an expression, in the order they were asked (and answered) on each image.
  const expressions = new Map<number, string[]>();
  if (metric !== 'classification')
    for (const a of listDatasetAnnotations(db, split.datasetId)) {
      if (metric === 'rec' && !a.expression) continue;
      const list = truth.get(a.imageId);
      if (!list) continue;
      list.push({ category: names.get(a.categoryId)!, box: { x1: a.x1, y1: a.y1, x2: a.x2, y2: a.y2 } });
      crowds.get(a.imageId)!.push(a.crowd);
      if (metric === 'rec') expressions.set(a.imageId, [...(expressions.get(a.imageId) ?? []), a.expression]);
    }
  const byRun = columns.map((c) => {
    const answers = new Map<number, StoredAnswer[]>();
    for (const a of listAnswers(db, (c.evaluation as Evaluation).id)) {
      let list = answers.get(a.imageId);
      if (!list) answers.set(a.imageId, (list = []));
      list.push(a);
    }
    return answers;
  });
  const items = imageIds.map((imageId): AnsweredImage => {
    const image = getImage(db, imageId)!;
    const answers = columns.map((c, i) => {
      const rows = (byRun[i]!.get(imageId) ?? []).map((a) => ({
        ...a,
        category: names.get(a.categoryId ?? -1) ?? '',
      }));
      const completions = new Map<string, string>();
      // REC: each expression's own answer, named by the expression (several may share a category).
      rows.forEach((r, k) => {
        const asked =
          metric === 'rec' ? (expressions.get(imageId)?.[k] ?? `${r.category} ${k + 1}`) : r.category;
        if (!completions.has(asked)) completions.set(asked, r.completion);
      });
      return {
        runId: c.runId,
        boxes: rows.map(({ category, box, score }) => ({ category, box, score })),
        completions: [...completions].map(([category, text]) => ({ category, text })),
        figure: imageFigure(
          metric,
          truth.get(imageId)!.map((t, k) => ({ ...t, crowd: crowds.get(imageId)![k] })),
          rows,
        ),
      };
    });
    const figures = answers.map((a) => a.figure);
    return {
      imageId,
      path: image.path,
      width: image.width,
      height: image.height,
      truth: truth.get(imageId)!,
      answers,
      disagreement: Math.max(...figures) - Math.min(...figures),
    };
  });
  return { items, categories: [...new Set(names.values())] };
}

/** The comparison with its bootstrap intervals, measured in a worker thread. */
function measureInWorker(
  script: string,
  db: Db,
  columns: ComparedColumn[],
  resamples: number,
): Promise<Comparison> {
  const job: CompareJob = {
    dbFile: db.name,
    columns: columns.map((c) => ({ label: c.label, runId: c.runId, evaluationId: c.evaluation.id })),
    resamples,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: job });
    worker.once('message', (comparison: Comparison) => resolve(comparison));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the comparison's worker stopped (exit code ${code})`));
    });
  });
}

export function createCompareHandlers(ctx: HostContext): Pick<Handlers, keyof typeof compareCalls> {
  const { db } = ctx;
  /**
   * Comparisons already measured, by their evaluations (which never change once stored), labels and
   * draws: the bootstrap takes ~2 s per Δ at 700 answers, so reopening a comparison is instant.
   */
  const measured = new Map<string, Comparison>();
  return {
    'compare.table': async ({ runIds, labels, resamples }) => {
      const columns = evaluatedColumns(db, runIds, labels);
      const key = JSON.stringify([columns.map((c) => [c.label, c.evaluation.id]), resamples]);
      const comparison =
        measured.get(key) ??
        (resamples === 0 || columns.length < 2
          ? compareInWorkspace(db, columns, resamples)
          : await measureInWorker(
              ctx.compareWorker ?? builtScript('compareWorker.js', import.meta.url),
              db,
              columns,
              resamples,
            ));
      if (measured.size > 100) measured.clear();
      measured.set(key, comparison);
      return {
        ...comparison,
        columns: columns.map((c) => ({
          label: c.label,
          runId: c.runId,
          evaluationRunId: c.evaluation.runId,
          splitName:
            c.evaluation.splitId === null ? null : (getSplit(db, c.evaluation.splitId)?.name ?? null),
        })),
        intervals: comparison.intervals ?? [],
      };
    },
    'compare.answers': ({ runIds, offset, limit, sort, category }) => {
      const { items, categories } = answeredImages(db, evaluatedColumns(db, runIds));
      const shown = category
        ? items.filter(
            (item) =>
              item.truth.some((t) => t.category === category) ||
              item.answers.some((a) => a.boxes.some((b) => b.category === category && b.box !== null)),
          )
        : items;
      if (sort === 'disagreement')
        shown.sort((a, b) => b.disagreement - a.disagreement || a.imageId - b.imageId);
      return { total: shown.length, categories, items: shown.slice(offset, offset + limit) };
    },
  };
}
