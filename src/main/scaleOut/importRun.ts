/**
 * A finished TRL `GRPOTrainer` output folder (VLM-R1's and Visual-RFT's too: both are TRL-based)
 * as a vrft run, after the fact:
 * - metrics from `trainer_state.json`'s `log_history` (the folder's own, else its latest
 *   checkpoint's); TRL 1.x already logs under vrft's metric names, older TRL's `rewards/<fn>` and
 *   `completion_length` are renamed to them;
 * - rollouts from `completions/completions_NNNNN.parquet` (`log_completions=True`);
 * - each `checkpoint-N/` as the run's checkpoint at step N;
 * - the folder's final adapter or model, recorded in the config (`source.model`) so that
 *   `vrft eval --run` and `vrft export-model` find it where TRL left it.
 * Everything is read first and written in one transaction: a bad file leaves nothing behind.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { oddFile } from '../data/formats/files';
import { findDatasetByName } from '../store/datasets';
import { transaction, type Db } from '../store/db';
import { countRollouts, insertRollouts, type RolloutInput } from '../store/rollouts';
import {
  addCheckpoint,
  createRun,
  insertMetrics,
  listRuns,
  setRunStatus,
  type MetricPoint,
} from '../store/runs';
import { findSplit } from '../store/splits';

/** What a TRL output folder holds, read and checked, ready to be written as a run. */
export interface TrlRun {
  /** The folder, absolute. */
  dir: string;
  config: Record<string, unknown>;
  /** The last step trained (`global_step`, else the last step logged). */
  steps: number;
  metrics: MetricPoint[];
  rollouts: RolloutInput[];
  checkpoints: { step: number; path: string }[];
  /** The folder's final adapter or model (the folder itself), or null when it saved none. */
  model: string | null;
}

export interface ImportedRun {
  runId: number;
  name: string;
  steps: number;
  /** How many metric points, rollouts and checkpoints were stored. */
  metrics: number;
  rollouts: number;
  checkpoints: number;
  model: string | null;
}

const invalid = (message: string) => new UserError('invalid_input', message);

/** Reads a TRL output folder; `progress` hears a line now and then on a long read. */
export async function readTrlRun(dir: string, progress: (line: string) => void = () => {}): Promise<TrlRun> {
  const root = path.resolve(dir);
  if (!existsSync(root)) throw new UserError('not_found', `${root}: no such folder`);
  if (!statSync(root).isDirectory())
    throw invalid(`${root} is a file: name the output_dir folder a TRL trainer wrote`);
  const checkpoints = checkpointFolders(root);
  const stateFile = [root, ...checkpoints.map((c) => c.path).reverse()]
    .map((d) => path.join(d, 'trainer_state.json'))
    .find((f) => existsSync(f));
  if (!stateFile)
    throw invalid(
      `${root} is not a TRL output folder: it has no trainer_state.json, nor any checkpoint-N/ holding one. ` +
        'Name the output_dir of a finished GRPOTrainer run (trainer.save_state() writes trainer_state.json there)',
    );
  const state = readTrainerState(stateFile);
  const metrics = logHistoryMetrics(state.logHistory);
  const lastLogged = Math.max(0, ...metrics.map((m) => m.step));

  const config = folderConfig(root, state.settings);
  const rollouts: RolloutInput[] = [];
  const files = completionFiles(root);
  for (const [i, file] of files.entries()) {
    if (files.length > 10 && i % 50 === 0) progress(`reading completions ${i + 1}/${files.length}`);
    rollouts.push(...(await readCompletions(file, rewardWeights(config))));
  }
  return {
    dir: root,
    config,
    steps: typeof state.settings.global_step === 'number' ? state.settings.global_step : lastLogged,
    metrics,
    rollouts,
    checkpoints,
    model: finalModel(root),
  };
}

/** The project a `vrft scale-out export` wrote, as its config records it. */
const projectOf = (config: Record<string, unknown>) =>
  isObject(config.scaleOut) && typeof config.scaleOut.project === 'string'
    ? config.scaleOut.project
    : undefined;

/**
 * The output of a run exported from this workspace (its vrft-run.json names the project the run
 * was exported to) completes that run rather than making another: the reward server has recorded
 * its rollouts and curves live; the folder adds its checkpoints where they are now, its final
 * model, and whatever the server missed (metrics always, rollouts when it recorded none).
 */
function attachToScaleOutRun(db: Db, run: TrlRun): ImportedRun | undefined {
  const project = projectOf(run.config);
  const existing = project && listRuns(db).find((r) => projectOf(r.config) === project);
  if (!existing) return undefined;
  const recorded = countRollouts(db, existing.id) > 0;
  transaction(db, () => {
    insertMetrics(db, existing.id, run.metrics);
    if (!recorded) insertRollouts(db, existing.id, run.rollouts);
    db.prepare('DELETE FROM checkpoint WHERE run_id = ?').run(existing.id);
    for (const c of run.checkpoints) addCheckpoint(db, { runId: existing.id, ...c });
    db.prepare('UPDATE run SET config = ? WHERE id = ?').run(
      JSON.stringify({ ...existing.config, source: run.config.source }),
      existing.id,
    );
    setRunStatus(db, existing.id, 'completed');
  });
  return {
    runId: existing.id,
    name: existing.name,
    steps: run.steps,
    metrics: run.metrics.length,
    rollouts: recorded ? 0 : run.rollouts.length,
    checkpoints: run.checkpoints.length,
    model: run.model,
  };
}

/** Writes a read folder as a completed GRPO run, all of it or nothing. */
export function saveTrlRun(db: Db, run: TrlRun, name: string): ImportedRun {
  const attached = attachToScaleOutRun(db, run);
  if (attached) return attached;
  const dataset =
    typeof run.config.dataset === 'string' ? findDatasetByName(db, run.config.dataset) : undefined;
  const split =
    dataset && typeof run.config.split === 'string' ? findSplit(db, dataset.id, run.config.split) : undefined;
  const runId = transaction(db, () => {
    const id = createRun(db, {
      kind: 'grpo',
      name,
      datasetId: dataset?.id ?? null,
      splitId: split?.id ?? null,
      config: run.config,
      seed: typeof run.config.seed === 'number' ? run.config.seed : null,
    });
    insertMetrics(db, id, run.metrics);
    insertRollouts(db, id, run.rollouts);
    for (const c of run.checkpoints) addCheckpoint(db, { runId: id, ...c });
    setRunStatus(db, id, 'completed');
    return id;
  });
  return {
    runId,
    name,
    steps: run.steps,
    metrics: run.metrics.length,
    rollouts: run.rollouts.length,
    checkpoints: run.checkpoints.length,
    model: run.model,
  };
}

function checkpointFolders(root: string): { step: number; path: string }[] {
  return readdirSync(root, { withFileTypes: true })
    .map((entry) => ({ entry, match: /^checkpoint-(\d+)$/.exec(entry.name) }))
    .filter(({ entry, match }) => match && entry.isDirectory())
    .map(({ entry, match }) => ({ step: Number(match![1]), path: path.join(root, entry.name) }))
    .sort((a, b) => a.step - b.step);
}

/** The folder's final model: PEFT's adapter files, or a full checkpoint, at its root. */
function finalModel(root: string): string | null {
  const has = (name: string) => existsSync(path.join(root, name));
  if (has('adapter_config.json') && has('adapter_model.safetensors')) return root;
  if (has('config.json') && (has('model.safetensors') || has('model.safetensors.index.json'))) return root;
  return null;
}

const NUMBER_MARK = '\u0000vrft-number:';

/**
 * JSON as Python's json module writes it: NaN, Infinity and -Infinity are bare words there (a
 * diverged loss is logged as NaN), which JSON.parse refuses. Outside strings they are read as
 * numbers.
 */
export function parsePythonJson(text: string): unknown {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) =>
    token.startsWith('"') ? token : JSON.stringify(NUMBER_MARK + token),
  );
  return JSON.parse(marked, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(NUMBER_MARK)
      ? Number(value.slice(NUMBER_MARK.length))
      : value,
  );
}

function readJsonFile(file: string): unknown {
  // A pipe would block the read: say what is there instead.
  const problem = oddFile(file);
  if (problem) throw invalid(`${file} ${problem}: copy the file itself`);
  try {
    return parsePythonJson(readFileSync(file, 'utf8'));
  } catch (error) {
    throw invalid(
      `${file}: not valid JSON (${(error as Error).message}); copy it again from where the run trained`,
    );
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function readTrainerState(file: string): {
  logHistory: Record<string, unknown>[];
  settings: Record<string, unknown>;
} {
  const json = readJsonFile(file);
  if (!isObject(json) || !Array.isArray(json.log_history) || !json.log_history.every(isObject))
    throw invalid(
      `${file}: has no log_history list, so it is not a trainer_state.json that a TRL trainer wrote`,
    );
  // The trainer's scalar settings (global_step, max_steps, train_batch_size, logging_steps, …).
  const settings = Object.fromEntries(
    Object.entries(json).filter(([, v]) => typeof v === 'number' || typeof v === 'string'),
  );
  return { logHistory: json.log_history, settings };
}

/** Older TRL (VLM-R1, Visual-RFT) names → the names TRL 1.x and vrft log under. */
export function metricName(key: string): string {
  if (key === 'completion_length') return 'completions/mean_length';
  if (/^rewards\/[^/]+$/.test(key)) return `${key}/mean`;
  return key;
}

/** Every numeric value of every log_history entry at its step; the end-of-training summary is not a step. */
export function logHistoryMetrics(logHistory: readonly Record<string, unknown>[]): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const entry of logHistory) {
    if ('train_runtime' in entry || typeof entry.step !== 'number') continue;
    for (const [key, value] of Object.entries(entry))
      if (key !== 'step' && typeof value === 'number')
        points.push({ step: entry.step, key: metricName(key), value });
  }
  return points;
}

/**
 * What the folder says about how it was trained: vrft's own config when the run was exported by
 * `vrft scale-out export` (vrft-run.json), the base model its adapters name, and the trainer's
 * settings from trainer_state.json.
 */
function folderConfig(root: string, settings: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const vrftFile = path.join(root, 'vrft-run.json');
  if (existsSync(vrftFile)) {
    const json = readJsonFile(vrftFile);
    if (!isObject(json) || !isObject(json.config))
      throw invalid(`${vrftFile}: has no "config" object (vrft scale-out export writes {"runId", "config"})`);
    Object.assign(config, json.config);
  }
  const adapterFile = path.join(root, 'adapter_config.json');
  if (config.model === undefined && existsSync(adapterFile)) {
    const adapter = readJsonFile(adapterFile);
    const base = isObject(adapter) ? adapter.base_model_name_or_path : undefined;
    if (typeof base === 'string') config.model = localFolder(root, base) ?? base;
  }
  config.trainerState = settings;
  config.source = { kind: 'trl', dir: root, model: finalModel(root) };
  return config;
}

/** A base model named by path, absolute when it is a folder here (PEFT reads it from the working directory). */
function localFolder(root: string, named: string): string | undefined {
  return [path.resolve(root, named), path.resolve(named)].find((d) =>
    existsSync(path.join(d, 'config.json')),
  );
}

/**
 * How reward components add up to the reward: TRL's `reward_weights` (a list in reward-function
 * order) or vrft's `rewards` ({name: weight}); a component neither names counts once.
 */
function rewardWeights(config: Record<string, unknown>): (names: readonly string[]) => number[] {
  const trl = config.reward_weights;
  const named = isObject(config.rewards) ? config.rewards : {};
  return (names) =>
    names.map((name, i) => {
      if (Array.isArray(trl) && typeof trl[i] === 'number') return trl[i] as number;
      return typeof named[name] === 'number' ? named[name] : 1;
    });
}

function completionFiles(root: string): string[] {
  const dir = path.join(root, 'completions');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^completions_\d+\.parquet$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Columns of a completions table that are not reward functions. */
const notRewards = new Set(['step', 'advantage', 'sample_id']);
const numericTypes = new Set(['INT32', 'INT64', 'FLOAT', 'DOUBLE']);

/** A prompt or completion cell as text: a string, or a conversation of {role, content} messages. */
export function cellText(cell: unknown): string | undefined {
  if (typeof cell === 'string') return cell;
  if (!Array.isArray(cell)) return undefined;
  const parts: string[] = [];
  for (const message of cell) {
    const content = isObject(message) ? message.content : message;
    if (typeof content === 'string') parts.push(content);
    else if (Array.isArray(content))
      for (const part of content)
        if (typeof part === 'string') parts.push(part);
        else if (isObject(part) && typeof part.text === 'string') parts.push(part.text);
  }
  return parts.join('\n');
}

const toNumber = (value: unknown): number =>
  typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : NaN;

/** One completions_NNNNN.parquet as rollouts; an unreadable file is named in the message. */
async function readCompletions(
  file: string,
  weightsFor: (names: readonly string[]) => number[],
): Promise<RolloutInput[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } =
    await import('hyparquet');
  const corrupt = (problem: string) =>
    invalid(
      `${file}: ${problem}; copy it again from where the run trained, or delete it to import without it`,
    );
  let columns: { name: string; type: string | undefined }[];
  let rows: Record<string, unknown>[];
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    columns = parquetSchema(metadata).children.map((c) => ({ name: c.element.name, type: c.element.type }));
    rows = await parquetReadObjects({ file: buffer, metadata });
  } catch (error) {
    throw corrupt(`not a readable parquet file (${(error as Error).message})`);
  }
  const names = new Set(columns.map((c) => c.name));
  const missing = ['step', 'prompt', 'completion'].filter((c) => !names.has(c));
  if (missing.length) throw corrupt(`has no ${missing.join(', ')} column, so TRL did not write it`);
  const rewardNames = columns
    .filter((c) => !notRewards.has(c.name) && c.type !== undefined && numericTypes.has(c.type))
    .map((c) => c.name);
  const weights = weightsFor(rewardNames);

  const rollouts: RolloutInput[] = [];
  let previous: { step: number; promptKey: string; sampleIndex: number } | undefined;
  for (const [i, row] of rows.entries()) {
    const step = toNumber(row.step);
    const prompt = cellText(row.prompt);
    const completion = cellText(row.completion);
    if (!Number.isInteger(step) || step < 0 || prompt === undefined || completion === undefined)
      throw corrupt(`row ${i + 1} has no step, prompt or completion`);
    const advantage = names.has('advantage') ? toNumber(row.advantage) : 0;
    if (!Number.isFinite(advantage)) throw corrupt(`row ${i + 1} has no advantage`);
    const rewards: Record<string, number> = {};
    let reward = 0;
    rewardNames.forEach((name, j) => {
      const value = toNumber(row[name]);
      // A reward function that returned None for a sample did not score it (TRL sums the rest).
      if (Number.isNaN(value)) return;
      rewards[name] = value;
      reward += weights[j]! * value;
    });
    const id = row.sample_id;
    const promptKey =
      typeof id === 'string' || typeof id === 'number' || typeof id === 'bigint' ? String(id) : prompt;
    // Samples of one prompt are consecutive in TRL's table: the index counts along each run of them.
    const sampleIndex =
      previous && previous.step === step && previous.promptKey === promptKey ? previous.sampleIndex + 1 : 0;
    previous = { step, promptKey, sampleIndex };
    rollouts.push({
      step,
      promptKey,
      sampleIndex,
      prompt,
      completion,
      tokens: 0,
      truncated: false,
      rewards,
      reward,
      advantage,
    });
  }
  return rollouts;
}
