/**
 * `vrft doctor --model DIR [--config FILE]`: whether vrft can train that model folder, and whether
 * a training step fits this machine, before a user waits for a failed run or an out-of-memory. The
 * folder gets the inspection `vrft train` makes before a run exists (the weights' safetensors
 * headers, their shapes against config.json, the tokenizer and chat template); the plan comes from
 * config.json and the run config — no weight is read — so it answers at once even for a 7B folder
 * (or a folder of config.json alone): the parameter counts, the memory a step needs (weights,
 * adapters + optimiser, activations with and without per-layer recomputation), what the chosen
 * backend has, a verdict and what to change.
 */
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import type { EngineReport } from '../engine';
import { readAdapterFolder } from '../models/adapterFolder';
import { modelKindOf } from '../models';
import { installedPath } from '../models/installed';
import type { LoraConfig, PolicyKind } from '../models/policy';
import type { QwenConfig } from '../models/qwen2-vl/config';
import { imageProcessorOf, readQwenFolderConfig } from '../models/qwen2-vl/folder';
import {
  formatGiB,
  grpoStepMemory,
  imageTokenCount,
  loraParameterCount,
  wasmHeadroomBytes,
  wasmHeapBytes,
  type GrpoMemoryOptions,
} from '../models/qwen2-vl/memory';
import { inspectModelFolder, weightFiles } from '../models/inspect';
import { readSafetensorsHeader } from '../models/safetensors';
import { readShardIndex } from '../models/shards';
import {
  ConfigError,
  grpoConfigSchema,
  parseConfig,
  sftConfigSchema,
  type GrpoConfig,
  type SftConfig,
} from '../train/config';
import { UsageError } from './command';
import { readRunConfigJson } from './train';

/** The image a step is planned for when none is named: a typical photo (QWEN.md §5's example). */
export const plannedImage = { width: 640, height: 480 };

export interface ModelPlan {
  dir: string;
  kind: PolicyKind;
  /**
   * checked: the folder passed the inspection `vrft train` makes; absent: it holds no weights yet
   * (config.json alone), so there was nothing to check beyond config.json.
   */
  weights: 'checked' | 'absent';
  /** The base model's folder when `dir` is a LoRA adapter folder. */
  base?: string;
  /** The run config file, and what it trains. */
  config: string | null;
  method: 'grpo' | 'sft';
  parameters: {
    total: number;
    vision?: number;
    language?: number;
    embeddings?: number;
    lmHead?: number;
    tied?: boolean;
  };
  lora: (LoraConfig & { layers: number; parameters: number }) | null;
  /** A training step, in bytes; null where it is not planned (tiny-vlm). */
  step: {
    rows: number;
    promptTokens: number;
    imageTokens: number;
    completionTokens: number;
    image: { width: number; height: number };
    freezeVisionTower: boolean;
    gradientCheckpointing: boolean;
    trainableParameters: number;
    weights: number;
    referenceWeights: number;
    training: number;
    activations: { full: number; recomputed: number; vision: number };
    total: { full: number; recomputed: number };
    needed: number;
  } | null;
  backend: {
    name: EngineReport['backend'];
    /** What holds the tensors: wasm's heap, the machine's memory, or the GPU's. */
    memory: 'wasm heap' | 'machine memory' | 'GPU memory';
    /** Bytes it has; null when the backend does not say (a GPU under tfjs-node-gpu). */
    bytes: number | null;
    /** Bytes free now (machine memory only). */
    freeBytes: number | null;
  };
  verdict: 'fits' | 'does not fit' | 'unknown' | 'not planned';
  advice: string[];
  /** Why there is no step (tiny-vlm). */
  note?: string;
}

type RunConfig = { method: 'grpo'; config: GrpoConfig } | { method: 'sft'; config: SftConfig };

/** A GRPO or an SFT run config, whichever schema the file fits (GRPO first). */
export function readRunConfig(file: string): RunConfig {
  const data = readRunConfigJson(file);
  try {
    return { method: 'grpo', config: parseConfig(grpoConfigSchema, data, file) };
  } catch (grpoError) {
    if (!(grpoError instanceof ConfigError)) throw grpoError;
    try {
      return { method: 'sft', config: parseConfig(sftConfigSchema, data, file) };
    } catch (sftError) {
      if (!(sftError instanceof ConfigError)) throw sftError;
      const problems = (e: Error) => e.message.slice(file.length + 2);
      throw new UsageError(
        `${file} is neither a GRPO nor an SFT run config — as GRPO: ${problems(grpoError)}; as SFT: ${problems(sftError)}`,
      );
    }
  }
}

/** A model folder `vrft train` would refuse: what is wrong with it, in its words. */
export interface DamagedModel {
  dir: string;
  verdict: 'damaged';
  problems: string[];
}

/**
 * The folder as `vrft train` inspects it before a run exists: null when it passes, or what is wrong.
 * A folder without weights (config.json alone, to plan before downloading) is not inspected: the
 * plan says so. A folder that is not a model folder at all is the caller's usage error (modelKindOf).
 */
export function inspectForDoctor(dir: string): {
  weights: ModelPlan['weights'];
  damaged: DamagedModel | null;
} {
  modelKindOf(dir);
  if (weightFiles(path.resolve(dir)).length === 0) return { weights: 'absent', damaged: null };
  try {
    inspectModelFolder(dir);
    return { weights: 'checked', damaged: null };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { weights: 'checked', damaged: { dir, verdict: 'damaged', problems: [error.message] } };
  }
}

/** The model folder a run config names: from the config's folder, the working directory, vrft's own. */
export function modelDirOf(config: { model: string }, file: string): string {
  const candidates = [path.resolve(path.dirname(file), config.model), path.resolve(config.model)];
  const installed = installedPath(config.model);
  if (installed) candidates.push(installed);
  const found = candidates.find(
    (dir) => existsSync(path.join(dir, 'config.json')) || existsSync(path.join(dir, 'adapter_config.json')),
  );
  if (!found)
    throw new UsageError(`${file}: "model" ${config.model} is not a model folder (no config.json there)`);
  return found;
}

/** A GRPO run's defaults (what doctor plans without --config). */
const grpoDefaults = (): GrpoConfig => grpoConfigSchema.parse({ dataset: '-', steps: 1 });

/** What the backend keeps tensors in, and how much of it there is. */
function backendMemory(report: EngineReport): ModelPlan['backend'] {
  if (report.backend === 'wasm')
    return { name: 'wasm', memory: 'wasm heap', bytes: wasmHeapBytes, freeBytes: null };
  const gpu =
    report.backend === 'tfjs-node-gpu' && !report.tried.find((t) => t.name === 'tfjs-node-gpu')?.reason;
  // TensorFlow.js reports what it has allocated (tf.memory()), never what the GPU holds.
  if (gpu) return { name: report.backend, memory: 'GPU memory', bytes: null, freeBytes: null };
  return { name: report.backend, memory: 'machine memory', bytes: os.totalmem(), freeBytes: os.freemem() };
}

/** The most float32 weight bytes QwenPolicy.load takes on wasm. */
export const wasmWeightBytes = wasmHeapBytes - wasmHeadroomBytes;

/** The plan for `dir` (and the run config in `file`, if any) on the backend `report` describes. */
export async function planModel(
  dir: string,
  file: string | null,
  report: EngineReport,
  image = plannedImage,
  weights: ModelPlan['weights'] = 'checked',
): Promise<ModelPlan> {
  const run: RunConfig = file ? readRunConfig(file) : { method: 'grpo', config: grpoDefaults() };
  const kind = modelKindOf(dir);
  const adapter = existsSync(path.join(dir, 'config.json')) ? null : readAdapterFolder(dir);
  const base = adapter?.base ?? dir;
  const backend = backendMemory(report);
  const common = { dir, kind, weights, ...(adapter && { base }), config: file, method: run.method, backend };
  if (kind === 'tiny-vlm')
    return {
      ...common,
      parameters: { total: declaredParameters(base) },
      lora: null,
      step: null,
      verdict: 'not planned',
      advice: [],
      note: 'memory is planned for Qwen checkpoints; tiny-vlm is small enough for any backend',
    };

  const qwen = readQwenFolderConfig(base);
  let lora = run.config.lora;
  if (!lora && adapter) {
    const { adapterLora } = await import('../models/qwen2-vl/policy');
    lora = adapterLora(adapter.json);
  }
  const adapters = lora ? countLora(qwen, lora) : undefined;
  const c = run.config;
  const grpo = run.method === 'grpo' ? run.config : undefined;
  const options: GrpoMemoryOptions = {
    // SFT: one image and one target answer per example; the answer is taken at 256 tokens.
    promptsPerStep: grpo ? grpo.promptsPerStep : (c as SftConfig).batchSize,
    numGenerations: grpo ? grpo.numGenerations : 1,
    maxCompletionLength: grpo ? grpo.maxCompletionLength : grpoDefaults().maxCompletionLength,
    imageTokens: imageTokenCount(image, imageProcessorOf(base)),
    lora: lora ?? null,
    freezeVisionTower: c.freezeVisionTower,
    gradientCheckpointing: c.gradientCheckpointing,
    beta: grpo ? grpo.beta : 0,
  };
  const m = grpoStepMemory(qwen, options);
  const step: NonNullable<ModelPlan['step']> = {
    rows: m.sequence.rows,
    promptTokens: m.sequence.promptTokens,
    imageTokens: m.sequence.imageTokens,
    completionTokens: m.sequence.completionTokens,
    image,
    freezeVisionTower: options.freezeVisionTower,
    gradientCheckpointing: options.gradientCheckpointing,
    trainableParameters: m.trainableParameters,
    weights: m.weights,
    referenceWeights: m.referenceWeights,
    training: m.training,
    activations: m.activations,
    total: m.total,
    needed: m.needed,
  };
  const verdict = verdictOf(step, backend);
  const advice =
    verdict === 'fits' ? [] : adviceFor(step, backend, options, (o) => grpoStepMemory(qwen, o).needed);
  if (backend.memory !== 'GPU memory' && m.parameters.total > 1e9)
    advice.push(
      'on a CPU a training step of a model this size takes minutes: an NVIDIA GPU with ' +
        '@tensorflow/tfjs-node-gpu is the practical choice',
    );
  return {
    ...common,
    parameters: m.parameters,
    lora: lora && adapters ? { ...lora, ...adapters } : null,
    step,
    verdict,
    advice,
  };
}

function countLora(config: QwenConfig, lora: LoraConfig) {
  try {
    const { layers, parameters } = loraParameterCount(config, lora);
    return { layers: layers.length, parameters };
  } catch (error) {
    throw new UserError('invalid_input', `lora: ${(error as Error).message}`);
  }
}

function verdictOf(
  step: NonNullable<ModelPlan['step']>,
  backend: ModelPlan['backend'],
): ModelPlan['verdict'] {
  if (backend.memory === 'wasm heap')
    return step.weights <= wasmWeightBytes && step.needed <= wasmHeapBytes ? 'fits' : 'does not fit';
  if (backend.bytes === null) return 'unknown';
  return step.needed <= backend.bytes ? 'fits' : 'does not fit';
}

/** What to change, most effective first, each with what it would need then. */
function adviceFor(
  step: NonNullable<ModelPlan['step']>,
  backend: ModelPlan['backend'],
  options: GrpoMemoryOptions,
  needs: (options: GrpoMemoryOptions) => number,
): string[] {
  const advice: string[] = [];
  const gib = formatGiB;
  if (backend.memory === 'wasm heap')
    advice.push(
      `${step.weights > wasmWeightBytes ? `the weights alone need ${gib(step.weights)}; ` : ''}` +
        `wasm holds ${gib(wasmHeapBytes)} at most: install a native backend in the vrft folder — ` +
        'npm install @tensorflow/tfjs-node (CPU, the machine’s memory) or npm install @tensorflow/tfjs-node-gpu (NVIDIA GPU)',
    );
  if (!options.gradientCheckpointing)
    advice.push(
      `turn on "gradientCheckpointing": true — each decoder layer is recomputed in the backward pass ` +
        `(activations ${gib(step.activations.full)} → ${gib(step.activations.recomputed)}; ` +
        `${gib(needs({ ...options, gradientCheckpointing: true }))} in all)`,
    );
  if (!options.lora) {
    const lora = { rank: 64, alpha: 128, dropout: 0.05 };
    advice.push(
      `use LoRA — "lora": {"r": 64, "lora_alpha": 128} trains adapters only, with the base as the reference ` +
        `(${gib(needs({ ...options, lora }))} in all)`,
    );
  }
  if (!options.freezeVisionTower && !options.lora)
    advice.push(
      `keep "freezeVisionTower": true (${gib(needs({ ...options, freezeVisionTower: true }))} in all)`,
    );
  const fewer = { ...options, numGenerations: Math.max(2, Math.floor(options.numGenerations / 2)) };
  const shorter = {
    ...options,
    maxCompletionLength: Math.max(1, Math.floor(options.maxCompletionLength / 2)),
  };
  advice.push(
    `lower numGenerations (${fewer.numGenerations}: ${gib(needs(fewer))}), maxCompletionLength ` +
      `(${shorter.maxCompletionLength}: ${gib(needs(shorter))}) or promptsPerStep — activations grow with ` +
      'promptsPerStep × numGenerations × (prompt + completion tokens)',
  );
  if (backend.memory === 'GPU memory')
    advice.push(`check the GPU's memory with nvidia-smi: the step needs ${gib(step.needed)} of it`);
  return advice;
}

/** Σ of the tensor sizes a folder's safetensors headers declare (tiny-vlm: no config to count from). */
function declaredParameters(dir: string): number {
  const index = path.join(dir, 'model.safetensors.index.json');
  const files = existsSync(index)
    ? readShardIndex(index).shards
    : readdirSync(dir)
        .filter((f) => f.endsWith('.safetensors'))
        .map((f) => path.join(dir, f));
  let total = 0;
  for (const file of files)
    for (const entry of readSafetensorsHeader(file).entries) total += entry.shape.reduce((a, b) => a * b, 1);
  return total;
}
