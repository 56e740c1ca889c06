/**
 * The one place that knows the concrete models: a folder's config.json says which policy loads it
 * (`model_type` qwen2_vl / qwen2_5_vl for Qwen; vrft's own tiny-vlm config otherwise). Training,
 * evaluation and the commands load models only through here.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Size } from '../../shared/boxes';
import { UserError } from '../../shared/errors';
import { readAdapterFolder } from './adapterFolder';
import { refuseOddFiles } from './folderFiles';
import type { LoraConfig, Policy, PolicyKind, PolicyReplica } from './policy';
import { qwenFamilyOf, supportedModelTypes } from './qwen2-vl/config';
import { defaultImageProcessor, imageProcessorOf } from './qwen2-vl/folder';
import { inputSizeOf } from './qwen2-vl/processor';
import { TinyVlmPolicy } from './tiny-vlm/policy';
import { parseJsonFile } from '../data/jsonErrors';

export interface LoadPolicyOptions {
  /** LoRA adapters to add. */
  lora?: LoraConfig | null;
  seed?: number;
  /** Qwen: train the vision tower too (false, the default, keeps it fixed). */
  freezeVisionTower?: boolean;
  /** Qwen: recompute each decoder layer's activations in the backward pass. */
  gradientCheckpointing?: boolean;
}

function readConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, 'config.json');
  if (!existsSync(file))
    throw new UserError(
      'invalid_input',
      `${dir} is not a model folder: it has no config.json. Name a folder holding a model ` +
        '(config.json with its weights), such as a Hugging Face Qwen2-VL / Qwen2.5-VL download or vrft’s tiny-vlm.',
    );
  const json = parseJsonFile(file);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserError(
      'invalid_input',
      `${file}: not a JSON object: a model's config.json is one ({"model_type": …})`,
    );
  return json as Record<string, unknown>;
}

/** A folder vrft loads as a model: a checkpoint (config.json) or a PEFT adapter folder. */
export function isModelFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'config.json')) || existsSync(path.join(dir, 'adapter_config.json'));
}

/** Which policy a model folder holds, from its config.json alone (an adapter folder's: its base's). */
export function modelKindOf(dir: string): PolicyKind {
  refuseOddFiles(dir);
  if (!existsSync(path.join(dir, 'config.json'))) {
    const adapter = readAdapterFolder(dir);
    if (adapter) return modelKindOf(adapter.base);
  }
  const config = readConfig(dir);
  if (config.model_type === undefined && typeof config.dModel === 'number') return 'tiny-vlm';
  try {
    return qwenFamilyOf(config, path.join(dir, 'config.json'));
  } catch (error) {
    throw new UserError('invalid_input', (error as Error).message);
  }
}

export async function loadPolicy(dir: string, options: LoadPolicyOptions = {}): Promise<Policy> {
  const kind = modelKindOf(dir);
  if (kind === 'tiny-vlm') return TinyVlmPolicy.load(dir, options);
  const { QwenPolicy } = await import('./qwen2-vl/policy');
  return QwenPolicy.load(dir, options);
}

/**
 * What TRL needs to train `model` as vrft would (scale-out): a Qwen folder, or a Qwen hub id.
 * vrft's own tiny-vlm and adapter folders are not models transformers loads on its own.
 */
export async function trainingFactsOf(model: string) {
  const { isLocalModel, qwenTrainingFacts } = await import('./qwen2-vl/trainingFacts');
  if (existsSync(path.join(model, 'adapter_config.json')) && !isLocalModel(model))
    throw new UserError(
      'invalid_input',
      `${model} holds LoRA adapters, not a model: name the model they were trained on, or merge them first ` +
        '(vrft export-model RUN --merge --out DIR)',
    );
  const local = isLocalModel(model);
  if (local && modelKindOf(model) === 'tiny-vlm')
    throw new UserError(
      'invalid_input',
      `${model} is vrft's own tiny-vlm, which TRL cannot load: scale out a Qwen2-VL / Qwen2.5-VL folder or hub id`,
    );
  if (!local && existsSync(model))
    throw new UserError('invalid_input', `${model} is not a model folder (no config.json there)`);
  return qwenTrainingFacts(model, local);
}

/**
 * The size Qwen2-VL / Qwen2.5-VL's processor resizes an image to, i.e. the frame of the pixel
 * coordinates Qwen2.5-VL reads and writes: with a Qwen model folder's min/max pixels, or the
 * processor's class defaults when no folder is named. Read once; the function is per image.
 */
export function qwenInputSizer(modelDir?: string): (image: Size) => Size {
  if (modelDir !== undefined && modelKindOf(modelDir) === 'tiny-vlm')
    throw new UserError(
      'invalid_input',
      `${modelDir} is vrft's own tiny-vlm, which reads boxes on 0–1000, not in resized pixels: ` +
        'name a Qwen2-VL / Qwen2.5-VL folder, or leave --model out for Qwen’s defaults',
    );
  const p = modelDir === undefined ? defaultImageProcessor : imageProcessorOf(modelDir);
  return (image) => inputSizeOf(image, p);
}

/** The policy a worker thread builds from another thread's `policy.replica()`. */
export function policyFromReplica(replica: PolicyReplica): Policy {
  if (replica.kind === 'tiny-vlm') return TinyVlmPolicy.fromReplica(replica);
  throw new Error(`${replica.kind} has no data-parallel replica`);
}

export { supportedModelTypes };
