import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserError, type ErrorCode } from '../../src/shared/errors';
import {
  applyMigrations,
  busyTimeoutMs,
  latestSchemaVersion,
  openStore,
  schemaVersion,
  StoreError,
  workspaceDbPath,
  type Db,
} from '../../src/main/store/db';
import { migrations } from '../../src/main/store/migrations';
import {
  createDataset,
  deleteDataset,
  getDataset,
  listDatasets,
  renameDataset,
} from '../../src/main/store/datasets';
import { addCategory, listCategories } from '../../src/main/store/categories';
import { addImage } from '../../src/main/store/images';
import { addAnnotation } from '../../src/main/store/annotations';
import { setImageLabel } from '../../src/main/store/labels';
import { addSourceLine } from '../../src/main/store/sourceLines';
import { createSplit, listSplitImageIds } from '../../src/main/store/splits';
import { addModel, getModel } from '../../src/main/store/models';
import {
  addCheckpoint,
  addRunWarning,
  createRun,
  getRun,
  insertMetrics,
  listMetrics,
  listRunWarnings,
  metricSeries,
  rollBackRunAfter,
} from '../../src/main/store/runs';
import {
  createExperiment,
  getExperiment,
  markInterruptedExperiments,
  setExperimentRun,
} from '../../src/main/store/experiments';
import {
  countRollouts,
  insertRollouts,
  listRollouts,
  type RolloutInput,
} from '../../src/main/store/rollouts';
import { addEvaluation, insertPredictions } from '../../src/main/store/evaluations';

// Every table migration 1 creates; the cascade test counts rows in each.
const tables = (
  'dataset category image annotation split split_image model run metric checkpoint rollout ' +
  'evaluation prediction schema_version run_warning experiment image_label source_line'
).split(' ');

// Migration 3's trace tables: the flagged rollouts and the completion index (FTS5 and its shadows).
const traceTables = [
  'rollout_flag',
  'rollout_text',
  'rollout_text_config',
  'rollout_text_data',
  'rollout_text_docsize',
  'rollout_text_idx',
];

let dir: string;
const opened: Db[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vrft-store-'));
});

afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A workspace in this test's temp dir, closed after the test. */
function open(file = workspaceDbPath(join(dir, 'data'))): Db {
  const db = openStore(file);
  opened.push(db);
  return db;
}

function count(db: Db, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

function userTables(db: Db): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
}

function expectUserError(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UserError);
  expect((thrown as UserError).code).toBe(code);
  if (message) expect((thrown as UserError).message).toMatch(message);
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function rollout(overrides: Partial<RolloutInput> = {}): RolloutInput {
  return {
    step: 0,
    promptKey: 'img1:find the cat',
    sampleIndex: 0,
    prompt: 'Find the cat.',
    completion: '<answer>[1,2,30,40]</answer>',
    tokens: 12,
    truncated: false,
    rewards: { iou: 0.5, format: 1 },
    reward: 1.5,
    advantage: 0.25,
    parsed: { box: [1, 2, 30, 40] },
    meanLogprob: -0.7,
    ...overrides,
  };
}

/** One of everything hanging off a dataset, built through the repositories. */
function seedDataset(db: Db, name: string, modelId: number) {
  const datasetId = createDataset(db, { name }).id;
  const cat = addCategory(db, { datasetId, name: 'cat' });
  const imageId = addImage(db, {
    datasetId,
    path: `${name}/a.jpg`,
    sha256: 'a',
    width: 64,
    height: 48,
  });
  addImage(db, { datasetId, path: `${name}/b.jpg`, sha256: 'b', width: 64, height: 48 });
  const boxId = addAnnotation(db, {
    imageId,
    categoryId: cat.id,
    box: { x1: 1, y1: 2, x2: 30, y2: 40 },
    expression: 'the thing',
  });
  setImageLabel(db, imageId, cat.id);
  addSourceLine(db, {
    imageId,
    annotationId: boxId,
    format: 'vlm-r1',
    lineId: '1',
    categories: null,
    accuRewardMethod: null,
  });
  const splitId = createSplit(db, { datasetId, name: 'train-4', kind: 'train', imageIds: [imageId] });
  const sft = createRun(db, { kind: 'sft', datasetId, splitId, modelId, config: {} });
  const grpo = createRun(db, {
    kind: 'grpo',
    datasetId,
    splitId,
    modelId,
    parentRunId: sft,
    config: {},
  });
  insertMetrics(db, grpo, [{ step: 0, key: 'loss', value: 1 }]);
  addRunWarning(db, grpo, { kind: 'zero-std', step: 0, message: 'no spread' });
  addCheckpoint(db, { runId: grpo, step: 0, path: `${name}/ckpt-0` });
  const experimentId = createExperiment(db, {
    name,
    datasetId,
    trainSplitId: splitId,
    evalSplitId: splitId,
    config: {},
  });
  setExperimentRun(db, experimentId, 'sft', sft);
  insertRollouts(db, grpo, [rollout({ imageId })]);
  const evaluationId = addEvaluation(db, {
    runId: grpo,
    splitId,
    metrics: { map50: 0.4 },
    perCategory: {},
  });
  insertPredictions(db, evaluationId, [
    {
      imageId,
      categoryId: cat.id,
      box: { x1: 0, y1: 0, x2: 5, y2: 5 },
      score: 0.9,
      completion: 'x',
    },
  ]);
  return { datasetId, imageId, categoryId: cat.id, splitId, runId: grpo };
}

describe('opening a workspace', () => {
  it('applies every migration at open: latest schema_version, every table, WAL, foreign keys on', () => {
    const db = open();
    expect(latestSchemaVersion).toBe(migrations.length);
    expect(schemaVersion(db)).toBe(latestSchemaVersion);
    expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([
      { version: latestSchemaVersion },
    ]);
    expect(userTables(db).sort()).toEqual([...tables, ...traceTables].sort());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(busyTimeoutMs);
  });

  it('reopening is idempotent: nothing re-runs, data and the single version row stay', () => {
    const file = workspaceDbPath(join(dir, 'data'));
    const first = open(file);
    createDataset(first, { name: 'birds' });
    first.close();

    const again = open(file);
    expect(applyMigrations(again, migrations)).toBe(0);
    expect(count(again, 'schema_version')).toBe(1);
    expect(schemaVersion(again)).toBe(latestSchemaVersion);
    expect(listDatasets(again).map((d) => d.name)).toEqual(['birds']);
  });

  it('a failing migration rolls back every pending migration and names the one that failed', () => {
    const db = new Database(join(dir, 'fresh.sqlite'));
    opened.push(db);
    const broken = [
      ...migrations,
      {
        version: migrations.length + 1,
        name: 'add widgets',
        sql: 'CREATE TABLE widget (id INTEGER);',
      },
      {
        version: migrations.length + 2,
        name: 'bad column',
        sql: 'ALTER TABLE nowhere ADD x INTEGER;',
      },
    ];
    expect(() => applyMigrations(db, broken)).toThrow(
      new RegExp(`Migration ${migrations.length + 2} \\(bad column\\) failed`),
    );
    expect(userTables(db)).toEqual([]);
    expect(schemaVersion(db)).toBe(0);

    // From an up-to-date file too: the file stays at its old version, without the half step.
    applyMigrations(db, migrations);
    expect(() => applyMigrations(db, broken)).toThrow(StoreError);
    expect(userTables(db)).not.toContain('widget');
    expect(schemaVersion(db)).toBe(latestSchemaVersion);
  });

  it('refuses a workspace from a newer vrft and leaves the file byte-identical', () => {
    const file = join(dir, 'newer.sqlite');
    const newer = new Database(file);
    newer.exec(
      'CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (7);',
    );
    newer.close();
    const before = sha256(file);

    let thrown: unknown;
    try {
      open(file);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StoreError);
    expect((thrown as Error).message).toBe(
      `This workspace (${file}) was written by a newer vrft (schema 7; this build knows up to ` +
        `${latestSchemaVersion}). Upgrade vrft, or choose another --data folder.`,
    );
    expect(sha256(file)).toBe(before);
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}-shm`)).toBe(false);
  });

  it('creates the data folder when it does not exist yet', () => {
    const file = workspaceDbPath(join(dir, 'nested', 'deeper'));
    open(file);
    expect(existsSync(file)).toBe(true);
  });
});

describe('integrity', () => {
  it('deleting a dataset cascades to everything recorded about it; models and other datasets stay', () => {
    const db = open();
    const modelId = addModel(db, { name: 'tiny', kind: 'tiny-vlm', path: 'models/tiny' });
    const doomed = seedDataset(db, 'doomed', modelId);
    const kept = seedDataset(db, 'kept', modelId);
    const owned = tables.filter((t) => !['model', 'schema_version'].includes(t));
    const before = Object.fromEntries(owned.map((t) => [t, count(db, t)]));
    for (const t of owned) expect(before[t], t).toBeGreaterThan(0);

    expect(deleteDataset(db, doomed.datasetId)).toBe(true);

    for (const t of owned) expect(count(db, t), t).toBe(before[t]! / 2);
    expect(getModel(db, modelId)?.name).toBe('tiny');
    expect(getRun(db, kept.runId)?.modelId).toBe(modelId);
    expect(listSplitImageIds(db, kept.splitId)).toEqual([kept.imageId]);
  });

  it('a deleted model leaves its runs with model_id NULL instead of deleting them', () => {
    const db = open();
    const modelId = addModel(db, { name: 'tiny', kind: 'tiny-vlm', path: 'models/tiny' });
    const runId = createRun(db, { kind: 'sft', modelId, config: { lr: 1e-4 } });
    db.prepare('DELETE FROM model WHERE id = ?').run(modelId);
    expect(getRun(db, runId)).toMatchObject({ modelId: null, config: { lr: 1e-4 } });
  });

  it('constraints reject a degenerate box, an unknown run kind and a checkpoint of a missing run', () => {
    const db = open();
    const datasetId = createDataset(db, { name: 'd' }).id;
    const imageId = addImage(db, { datasetId, path: 'a.jpg', sha256: 'a', width: 10, height: 10 });
    const categoryId = addCategory(db, { datasetId, name: 'cat' }).id;
    const box = { x1: 5, y1: 5, x2: 5, y2: 9 };
    expect(() => addAnnotation(db, { imageId, categoryId, box })).toThrow(/CHECK constraint/);
    expect(() => createRun(db, { kind: 'dpo' as 'sft', config: {} })).toThrow(/CHECK constraint/);
    expect(() => addCheckpoint(db, { runId: 999, step: 1, path: 'x' })).toThrow(/FOREIGN KEY/);
    expect(count(db, 'annotation') + count(db, 'run') + count(db, 'checkpoint')).toBe(0);
  });

  it('a reader is not blocked by a write transaction and sees the new row only after COMMIT', () => {
    const file = workspaceDbPath(join(dir, 'data'));
    const writer = open(file);
    const reader = open(file);

    writer.exec('BEGIN IMMEDIATE');
    createDataset(writer, { name: 'in flight' });
    expect(listDatasets(reader)).toEqual([]);

    // A reader mid-transaction keeps its snapshot; under WAL the writer can still commit.
    reader.exec('BEGIN');
    expect(listDatasets(reader)).toEqual([]);
    writer.exec('COMMIT');
    expect(listDatasets(reader)).toEqual([]);
    reader.exec('COMMIT');

    expect(listDatasets(reader).map((d) => d.name)).toEqual(['in flight']);
  });
});

describe('metrics and rollouts', () => {
  it('metrics: filtered by key, ordered by step, NaN round-trips, a relogged step replaces its value', () => {
    const db = open();
    const runId = createRun(db, { kind: 'grpo', config: {} });
    insertMetrics(db, runId, [
      { step: 1, key: 'loss', value: 0.5 },
      { step: 0, key: 'loss', value: 0.9 },
      { step: 0, key: 'reward', value: 0.1 },
    ]);
    insertMetrics(db, runId, [
      { step: 1, key: 'loss', value: 0.4 },
      { step: 2, key: 'loss', value: NaN },
    ]);
    expect(listMetrics(db, runId, 'loss')).toEqual([
      { step: 0, key: 'loss', value: 0.9 },
      { step: 1, key: 'loss', value: 0.4 },
      { step: 2, key: 'loss', value: NaN },
    ]);
    expect(listMetrics(db, runId)).toHaveLength(4);
  });

  it('a metric batch with one bad row writes nothing', () => {
    const db = open();
    const runId = createRun(db, { kind: 'grpo', config: {} });
    const batch = [
      { step: 3, key: 'loss', value: 0.5 },
      { step: 3.5, key: 'kl', value: 0.01 }, // a fractional step cannot go in an INTEGER column
      { step: 3, key: 'reward', value: 0.7 },
    ];
    expect(() => insertMetrics(db, runId, batch)).toThrow();
    expect(listMetrics(db, runId)).toEqual([]);
  });

  it('rollouts round-trip their JSON fields and come back grouped by prompt and sample', () => {
    const db = open();
    const runId = createRun(db, { kind: 'grpo', config: {} });
    insertRollouts(db, runId, [
      rollout({ sampleIndex: 1, truncated: true, parsed: null, meanLogprob: null }),
      rollout({ sampleIndex: 0 }),
      rollout({ step: 1 }),
    ]);
    expect(countRollouts(db, runId)).toBe(3);
    const [first, second] = listRollouts(db, runId, 0);
    expect(first).toMatchObject({
      sampleIndex: 0,
      truncated: false,
      rewards: { iou: 0.5, format: 1 },
    });
    expect(first?.parsed).toEqual({ box: [1, 2, 30, 40] });
    expect(second).toMatchObject({ sampleIndex: 1, truncated: true, parsed: null, meanLogprob: null });
  });

  it.each([
    ['a NaN reward', rollout({ sampleIndex: 1, reward: NaN })],
    ['an image that does not exist', rollout({ sampleIndex: 1, imageId: 424242 })],
  ])('a rollout batch with %s mid-batch writes nothing', (_, bad) => {
    const db = open();
    const runId = createRun(db, { kind: 'grpo', config: {} });
    const batch = [rollout({ sampleIndex: 0 }), bad, rollout({ sampleIndex: 2 })];
    expect(() => insertRollouts(db, runId, batch)).toThrow();
    expect(countRollouts(db, runId)).toBe(0);
  });

  it('a rollout batch for a run that does not exist writes nothing', () => {
    const db = open();
    expect(() => insertRollouts(db, 999, [rollout(), rollout({ sampleIndex: 1 })])).toThrow(/FOREIGN KEY/);
    expect(count(db, 'rollout')).toBe(0);
  });
});

describe('dataset repository', () => {
  it('creates with a trimmed name and lists by name ignoring case, with image and annotation counts', () => {
    const db = open();
    const zebras = createDataset(db, { name: '  zebras ', description: 'stripes' });
    expect(zebras).toMatchObject({
      name: 'zebras',
      description: 'stripes',
      imageCount: 0,
      annotationCount: 0,
    });
    expect(zebras.createdAt).toBeGreaterThan(0);
    const birds = createDataset(db, { name: 'Birds' });
    createDataset(db, { name: 'apples' });
    const categoryId = addCategory(db, { datasetId: birds.id, name: 'gull' }).id;
    const imageId = addImage(db, { datasetId: birds.id, path: 'g.jpg', sha256: 'g', width: 9, height: 9 });
    addImage(db, { datasetId: birds.id, path: 'h.jpg', sha256: 'h', width: 9, height: 9 });
    for (const x1 of [0, 1, 2]) addAnnotation(db, { imageId, categoryId, box: { x1, y1: 0, x2: 8, y2: 8 } });

    expect(listDatasets(db).map((d) => [d.name, d.imageCount, d.annotationCount])).toEqual([
      ['apples', 0, 0],
      ['Birds', 2, 3],
      ['zebras', 0, 0],
    ]);
    expect(getDataset(db, birds.id)).toMatchObject({ imageCount: 2, annotationCount: 3 });
    expect(getDataset(db, 12345)).toBeUndefined();
  });

  it('rejects an empty name and a duplicate name with what to do next', () => {
    const db = open();
    createDataset(db, { name: 'birds' });
    expectUserError(() => createDataset(db, { name: '   ' }), 'invalid_input');
    expectUserError(
      () => createDataset(db, { name: ' birds ' }),
      'conflict',
      /^A dataset named "birds" already exists: pick another name\.$/,
    );
    expect(listDatasets(db)).toHaveLength(1);
  });

  it('renames (trimmed, updatedAt bumped); conflicts and missing ids are user errors', () => {
    const db = open();
    const birds = createDataset(db, { name: 'birds' });
    createDataset(db, { name: 'cats' });
    db.prepare('UPDATE dataset SET updated_at = 1 WHERE id = ?').run(birds.id);

    const renamed = renameDataset(db, birds.id, ' gulls ');
    expect(renamed).toMatchObject({ id: birds.id, name: 'gulls', createdAt: birds.createdAt });
    expect(renamed.updatedAt).toBeGreaterThan(1);
    expectUserError(() => renameDataset(db, birds.id, 'cats'), 'conflict', /"cats" already exists/);
    expectUserError(() => renameDataset(db, birds.id, ''), 'invalid_input');
    expectUserError(() => renameDataset(db, 999, 'x'), 'not_found');
    expect(listDatasets(db).map((d) => d.name)).toEqual(['cats', 'gulls']);
  });

  it('deleteDataset removes the dataset and reports false for an id that does not exist', () => {
    const db = open();
    const birds = createDataset(db, { name: 'birds' });
    expect(deleteDataset(db, birds.id)).toBe(true);
    expect(getDataset(db, birds.id)).toBeUndefined();
    expect(deleteDataset(db, birds.id)).toBe(false);
  });

  it('categories keep the order they were created in, per dataset', () => {
    const db = open();
    const a = createDataset(db, { name: 'a' }).id;
    const b = createDataset(db, { name: 'b' }).id;
    for (const name of ['zebra', 'ant', 'moose']) addCategory(db, { datasetId: a, name });
    addCategory(db, { datasetId: b, name: 'only' });
    expect(listCategories(db, a).map((c) => [c.name, c.ord])).toEqual([
      ['zebra', 0],
      ['ant', 1],
      ['moose', 2],
    ]);
    expect(listCategories(db, b).map((c) => c.ord)).toEqual([0]);
    expectUserError(() => addCategory(db, { datasetId: a, name: 'ant' }), 'conflict');
  });
});

describe('run warnings, metric series and experiments', () => {
  it('keeps each warning once per kind and step, and a resume rolls back those after its checkpoint', () => {
    const db = open();
    const runId = createRun(db, { kind: 'grpo', config: {} });
    addRunWarning(db, runId, { kind: 'zero-std', step: 10, message: 'a' });
    addRunWarning(db, runId, { kind: 'zero-std', step: 10, message: 'b' });
    addRunWarning(db, runId, { kind: 'format', step: 30, message: 'c' });
    expect(listRunWarnings(db, runId)).toEqual([
      { kind: 'zero-std', step: 10, message: 'b' },
      { kind: 'format', step: 30, message: 'c' },
    ]);
    rollBackRunAfter(db, runId, 25);
    expect(listRunWarnings(db, runId).map((w) => w.kind)).toEqual(['zero-std']);
  });

  it('aligns metrics on their steps, null where a key was not logged or was NaN, with when each was logged', () => {
    const db = open();
    const runId = createRun(db, { kind: 'grpo', config: {} });
    // A fixed clock: each value's time is the instant it was logged.
    const loggedAt = Date.UTC(2026, 0, 2, 3, 4, 5);
    vi.useFakeTimers({ toFake: ['Date'], now: loggedAt });
    try {
      insertMetrics(db, runId, [
        { step: 1, key: 'loss', value: 2 },
        { step: 1, key: 'kl', value: 0.1 },
        { step: 2, key: 'loss', value: NaN },
        { step: 3, key: 'loss', value: 1 },
        { step: 3, key: 'kl', value: 0.3 },
      ]);
    } finally {
      vi.useRealTimers();
    }
    const series = metricSeries(db, runId);
    expect(series.steps).toEqual([1, 2, 3]);
    expect(series.values).toEqual({ loss: [2, null, 1], kl: [0.1, null, 0.3] });
    expect(series.times).toEqual([loggedAt, loggedAt, loggedAt]);
    expect(metricSeries(db, runId, ['kl']).values).toEqual({ kl: [0.1, null, 0.3] });
    // Every key at every step: the same figures by the shorter way.
    const full = createRun(db, { kind: 'sft', config: {} });
    insertMetrics(db, full, [
      { step: 2, key: 'loss', value: 2 },
      { step: 1, key: 'loss', value: NaN },
      { step: 1, key: 'lr', value: 0.1 },
      { step: 2, key: 'lr', value: 0.2 },
    ]);
    expect(metricSeries(db, full)).toMatchObject({
      steps: [1, 2],
      values: { loss: [null, 2], lr: [0.1, 0.2] },
    });
    expect(metricSeries(db, full, ['lr']).values).toEqual({ lr: [0.1, 0.2] });
  });

  it('marks an experiment whose driving process is gone as interrupted, and leaves a live one alone', () => {
    const db = open();
    const datasetId = createDataset(db, { name: 'd' }).id;
    const splitId = createSplit(db, { datasetId, name: 's', kind: 'train', imageIds: [] });
    const input = { name: 'e', datasetId, trainSplitId: splitId, evalSplitId: splitId };
    const gone = createExperiment(db, { ...input, config: { pid: 111 } });
    const alive = createExperiment(db, { ...input, config: { pid: 222 } });
    markInterruptedExperiments(db, (pid) => pid === 222);
    expect(getExperiment(db, gone)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^interrupted/),
    });
    expect(getExperiment(db, alive)).toMatchObject({ status: 'running', error: null });
  });
});
