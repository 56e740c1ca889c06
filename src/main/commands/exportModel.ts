/**
 * `vrft export-model RUN --out DIR`: a run's model as a folder other tools load. The run's final
 * model, or with --checkpoint one of its training checkpoints (the weights it kept over the model
 * the run started from), is written as the policy saves it: for a Qwen LoRA run, PEFT's adapter
 * folder (adapter_config.json naming the base by absolute path, adapter_model.safetensors) with the
 * base's config, tokenizer, chat template and processor files; with --merge, full weights with the
 * adapters folded in, which transformers' from_pretrained loads on its own. A tiny-vlm run's
 * folder is vrft's own (--merge folds its adapters in too). An unfinished run exports its latest
 * checkpoint. Nothing is overwritten: --out must be new or empty.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { refuseWorkspaceFiles, stageFolder } from '../data/safeWrite';
import { defaultDataDir } from '../host/paths';
import type { LoraConfig } from '../models/policy';
import { getRun, listCheckpoints, type Run } from '../store/runs';
import { importedModelDir, runModelDir } from '../train/runFiles';
import { inWorkspace, requiredString, UsageError, wholeNumber, type Command, type Values } from './command';

/** What a run's export is made from. */
type Source =
  /** `copy`: the folder is the model alone (vrft's own run folder), not a trainer's whole output. */
  | { from: 'model'; dir: string; step: null; copy: boolean }
  /** A checkpoint's weights, loaded over the model the run started from with the run's LoRA shape. */
  | { from: 'checkpoint'; dir: string; step: number; model: string; lora: LoraConfig | null };

function stepList(steps: number[]): string {
  return steps.length ? `its checkpoints are at steps ${steps.join(', ')}` : 'it has no checkpoints';
}

/** The folder a run's export comes from, or a message saying why there is none. */
function exportSource(
  run: Run,
  dataDir: string,
  checkpointSteps: Map<number, string>,
  step?: number,
): Source {
  const id = run.id;
  if (run.kind === 'eval')
    throw new UsageError(
      `run ${id} is an evaluation: it has no model of its own (export the run it evaluated)`,
    );
  const steps = [...checkpointSteps.keys()].sort((a, b) => a - b);
  const checkpoint = (at: number): Source => {
    const model = path.resolve(String(run.config.model));
    if (!existsSync(path.join(model, 'config.json')) && !existsSync(path.join(model, 'adapter_config.json')))
      throw new UsageError(
        `run ${id} started from ${model}, which is no longer a model folder: a checkpoint keeps only ` +
          'what training changed, so put that folder back to export it',
      );
    const lora = (run.config.lora as LoraConfig | null | undefined) ?? null;
    return { from: 'checkpoint', dir: checkpointSteps.get(at)!, step: at, model, lora };
  };
  if (step !== undefined) {
    if (!checkpointSteps.has(step))
      throw new UsageError(`run ${id} has no checkpoint at step ${step}: ${stepList(steps)}`);
    return checkpoint(step);
  }
  const model = runModelDir(dataDir, run);
  if (run.status === 'completed') {
    if (existsSync(path.join(model, 'config.json')) || existsSync(path.join(model, 'adapter_config.json')))
      return { from: 'model', dir: model, step: null, copy: importedModelDir(run.config) === undefined };
    throw new UsageError(
      `run ${id} is completed but its model folder ${model} is missing` +
        (steps.length ? `; export a checkpoint instead (--checkpoint STEP: ${stepList(steps)})` : ''),
    );
  }
  if (!steps.length) {
    const next =
      run.status === 'paused' || run.status === 'cancelled'
        ? ` (vrft train --resume ${id} continues it)`
        : run.status === 'failed'
          ? ` (it failed: ${run.error ?? 'no reason kept'})`
          : ' (it keeps one every checkpointEvery steps)';
    throw new UsageError(
      `run ${id} is ${run.status} and has no checkpoint yet: there is no model to export${next}`,
    );
  }
  process.stderr.write(
    `vrft: run ${id} is ${run.status}: exporting its latest checkpoint, step ${steps.at(-1)}\n`,
  );
  return checkpoint(steps.at(-1)!);
}

/**
 * A file where a new folder `out` (or one of the folders above it) would go, or undefined: making
 * the folder would fail with ENOTDIR / EEXIST, which says nothing a user can act on.
 */
export function fileInTheWay(out: string): string | undefined {
  for (let dir = path.resolve(out); ; dir = path.dirname(dir)) {
    if (existsSync(dir)) return statSync(dir).isDirectory() ? undefined : dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** --out must be a new or empty folder. */
function checkOut(out: string): void {
  const file = fileInTheWay(out);
  if (file === out) throw new UsageError(`--out ${out} is a file: name a new folder`);
  if (file) throw new UsageError(`--out ${out}: ${file} is a file, not a folder: name a new folder`);
  if (existsSync(out) && readdirSync(out).length)
    throw new UsageError(
      `--out ${out} is not empty: name a new or empty folder (export-model overwrites nothing)`,
    );
}

async function write(source: Source, out: string, merge: boolean, metadata: Record<string, string>) {
  // A final model already is what the policy saved: kept as it is unless merging. An imported
  // run's lies among its trainer's other files: it is loaded and saved, as a checkpoint is.
  if (source.from === 'model' && source.copy && !merge) {
    cpSync(source.dir, out, { recursive: true });
    return;
  }
  const { initEngine } = await import('../engine');
  const engine = await initEngine();
  const { loadPolicy } = await import('../models');
  process.stderr.write(
    `vrft: loading ${source.from === 'model' ? source.dir : source.model} on ${engine.backend}\n`,
  );
  const policy =
    source.from === 'model'
      ? await loadPolicy(source.dir)
      : await loadPolicy(source.model, { lora: source.lora });
  try {
    if (source.from === 'checkpoint') policy.loadCheckpointWeights(source.dir);
    policy.save(out, metadata, { merge });
  } finally {
    policy.dispose();
  }
}

async function exportModel(values: Values, positionals: string[]): Promise<number> {
  const usage = 'vrft export-model RUN --out DIR: RUN is the run’s number';
  const raw = positionals[0];
  if (raw === undefined) throw new UsageError(`which run? (${usage})`);
  if (!/^\d+$/.test(raw)) throw new UsageError(`"${raw}" is not a run number (${usage})`);
  const runId = Number(raw);
  const out = path.resolve(requiredString(values, 'out'));
  const merge = values.merge === true;
  const step = values.checkpoint === undefined ? undefined : wholeNumber(values, 'checkpoint');
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());

  const source = await inWorkspace(dataDir, (db) => {
    refuseWorkspaceFiles(out, db.name);
    const run = getRun(db, runId);
    if (!run) throw new UsageError(`there is no run ${runId} in ${dataDir}`);
    const checkpoints = new Map(
      listCheckpoints(db, runId)
        .filter((c) => existsSync(path.join(c.path, 'state.json')))
        .map((c) => [c.step, c.path]),
    );
    return exportSource(run, dataDir, checkpoints, step);
  });
  // Written beside --out and put in place whole: a failure or a kill leaves nothing half-written.
  const staged = stageFolder(out, checkOut);
  const metadata = { run: String(runId), ...(source.step === null ? {} : { step: String(source.step) }) };
  try {
    await write(source, staged.dir, merge, metadata);
    staged.commit();
  } catch (error) {
    staged.discard();
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }

  const files = readdirSync(out)
    .sort()
    .map((name) => ({ name, bytes: statSync(path.join(out, name)).size }));
  const adapterFile = path.join(out, 'adapter_config.json');
  const base = existsSync(adapterFile)
    ? String(
        (JSON.parse(readFileSync(adapterFile, 'utf8')) as Record<string, unknown>).base_model_name_or_path,
      )
    : null;
  const { modelKindOf } = await import('../models');
  const kind = modelKindOf(out);
  if (values.json) {
    const result = {
      run: runId,
      from: source.from,
      step: source.step,
      kind,
      merged: merge,
      base,
      out,
      files,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const what = source.from === 'model' ? 'final model' : `checkpoint at step ${source.step}`;
  const form = base ? `a LoRA adapter over ${base}` : merge ? 'merged full weights' : 'full weights';
  const width = Math.max(...files.map((f) => f.name.length));
  process.stdout.write(
    `run ${runId}: exported its ${what} (${kind}, ${form}) to ${out}\n` +
      files.map((f) => `  ${f.name.padEnd(width)}  ${formatBytes(f.bytes)}\n`).join(''),
  );
  return 0;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export const exportModelCommand: Command = {
  summary: "save a run's model (or a checkpoint) as a folder transformers + PEFT load; --merge folds LoRA in",
  usage: 'vrft export-model RUN --out DIR [--merge] [--checkpoint STEP] [--data DIR] [--json]',
  positionals: 1,
  flags: {
    out: { type: 'string' },
    merge: { type: 'boolean' },
    checkpoint: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: exportModel,
};
