/**
 * A local Hugging Face Qwen2-VL / Qwen2.5-VL folder, as the hub and transformers write them
 * (QWEN.md §1): `config.json` flat or nested; `model.safetensors` or shards with
 * `model.safetensors.index.json`; BF16 / F16 / F32 tensors, read by offset into float32; the
 * tokenizer; the chat template from `chat_template.json`, `chat_template.jinja` or
 * `tokenizer_config.json`; the image processor's settings from `preprocessor_config.json` or
 * `processor_config.json`. Weights keep the hub's names (`model.layers.N…`, `visual.…`);
 * transformers 5's in-memory names (`model.language_model.…`, `model.visual.…`) are renamed to them.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { readSafetensorsFile, type TensorMap } from '../safetensors';
import { parseQwenConfig, type QwenConfig, type QwenImageProcessorConfig } from './config';
import { QwenChat, QwenTokenizer } from './chat';

export interface QwenFolder {
  dir: string;
  config: QwenConfig;
  weights: TensorMap;
  chat: QwenChat;
  imageProcessor: QwenImageProcessorConfig;
  /** The weight files, in the order read. */
  weightFiles: string[];
}

/** The files besides the weights that make the folder a model (copied into saved models). */
const companionFiles = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'added_tokens.json',
  'chat_template.json',
  'chat_template.jinja',
  'preprocessor_config.json',
  'processor_config.json',
];

export function qwenFolderFiles(dir: string): string[] {
  return companionFiles.map((f) => path.join(dir, f)).filter((f) => existsSync(f));
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UserError('invalid_input', `${file}: not valid JSON (${(error as Error).message})`);
  }
}

/** model.safetensors, or the shards its index names; a clear message when neither is there. */
export function weightFilesOf(dir: string): string[] {
  const single = path.join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (existsSync(indexFile)) {
    const index = readJson(indexFile);
    const map = index.weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== 'object')
      throw new UserError('invalid_input', `${indexFile}: has no weight_map`);
    const files = [...new Set(Object.values(map))].map((f) => path.join(dir, f));
    const missing = files.filter((f) => !existsSync(f));
    if (missing.length)
      throw new UserError(
        'invalid_input',
        `${dir}: the index names ${missing.map((f) => path.basename(f)).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not there (an interrupted download?)`,
      );
    return files;
  }
  const bin = ['pytorch_model.bin', 'model.bin'].find((f) => existsSync(path.join(dir, f)));
  throw new UserError(
    'invalid_input',
    bin
      ? `${dir}: the weights are in ${bin} (PyTorch pickle), which vrft does not read: save the model with safe_serialization=True`
      : `${dir}: no weights — a model folder holds model.safetensors, or shards with model.safetensors.index.json`,
  );
}

/** transformers 5's module paths → the hub's checkpoint names. */
export function hubName(name: string): string {
  if (name.startsWith('model.language_model.')) return `model.${name.slice('model.language_model.'.length)}`;
  if (name.startsWith('model.visual.')) return name.slice('model.'.length);
  return name;
}

function chatTemplateOf(dir: string, tokenizerConfig: Record<string, unknown>): string {
  const json = path.join(dir, 'chat_template.json');
  if (existsSync(json)) {
    const template = readJson(json).chat_template;
    if (typeof template === 'string') return template;
  }
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  if (typeof tokenizerConfig.chat_template === 'string') return tokenizerConfig.chat_template;
  throw new UserError(
    'invalid_input',
    `${dir}: no chat template (chat_template.json, chat_template.jinja, or tokenizer_config.json's chat_template); ` +
      'copy it from the model you started from, or ask with --template raw',
  );
}

const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const triple = (v: unknown, fallback: [number, number, number]): [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')
    ? (v as [number, number, number])
    : fallback;

/** The image processor's settings; the class defaults only where nothing is configured. */
export function imageProcessorOf(dir: string): QwenImageProcessorConfig {
  const pre = path.join(dir, 'preprocessor_config.json');
  const proc = path.join(dir, 'processor_config.json');
  const raw: Record<string, unknown> = existsSync(pre)
    ? readJson(pre)
    : existsSync(proc)
      ? ((readJson(proc).image_processor as Record<string, unknown> | undefined) ?? {})
      : {};
  const size = (raw.size ?? {}) as Record<string, unknown>;
  return {
    minPixels: num(raw.min_pixels, num(size.shortest_edge, 56 * 56)),
    maxPixels: num(raw.max_pixels, num(size.longest_edge, 28 * 28 * 1280)),
    patchSize: num(raw.patch_size, 14),
    temporalPatchSize: num(raw.temporal_patch_size, 2),
    mergeSize: num(raw.merge_size, 2),
    imageMean: triple(raw.image_mean, [0.48145466, 0.4578275, 0.40821073]),
    imageStd: triple(raw.image_std, [0.26862954, 0.26130258, 0.27577711]),
  };
}

/** Everything but the weights: cheap, for doctor and for checking a folder before a run. */
export function readQwenFolderConfig(dir: string): QwenConfig {
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile))
    throw new UserError('invalid_input', `${dir} is not a model folder: it has no config.json`);
  try {
    return parseQwenConfig(readJson(configFile), configFile);
  } catch (error) {
    throw error instanceof UserError ? error : new UserError('invalid_input', (error as Error).message);
  }
}

export function loadQwenFolder(dir: string): QwenFolder {
  const config = readQwenFolderConfig(dir);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerFile))
    throw new UserError(
      'invalid_input',
      `${dir}: no tokenizer.json (copy it from the model this one was made from)`,
    );
  const tokenizerConfigFile = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : {};
  const tokenizer = new QwenTokenizer(readJson(tokenizerFile), tokenizerConfig);
  const chat = new QwenChat(tokenizer, chatTemplateOf(dir, tokenizerConfig));
  const weightFiles = weightFilesOf(dir);
  const weights: TensorMap = new Map();
  for (const file of weightFiles) {
    let tensors: TensorMap;
    try {
      tensors = readSafetensorsFile(file);
    } catch (error) {
      throw new UserError('invalid_input', (error as Error).message);
    }
    for (const [name, t] of tensors) weights.set(hubName(name), t);
  }
  return { dir, config, weights, chat, imageProcessor: imageProcessorOf(dir), weightFiles };
}

/** sha256 over the weight files in order, streamed in 64 MiB pieces. */
export function weightsSha256(files: readonly string[]): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(64 << 20);
  for (const file of files) {
    const fd = openSync(file, 'r');
    try {
      for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}
