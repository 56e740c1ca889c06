/**
 * A local Hugging Face Qwen2-VL / Qwen2.5-VL folder, as the hub and transformers write them
 * (QWEN.md §1): `config.json` flat or nested; `model.safetensors` or shards with
 * `model.safetensors.index.json`; BF16 / F16 / F32 tensors, read by offset into float32; the
 * tokenizer; the chat template from `chat_template.json`, `chat_template.jinja` or
 * `tokenizer_config.json`; the image processor's settings from `processor_config.json` or
 * `preprocessor_config.json`.
 *
 * Weight names: one scheme, the hub's (transformers 4.x, and what transformers 5.18's
 * save_pretrained writes): `model.embed_tokens.weight`, `model.layers.N.…`, `model.norm.weight`,
 * `visual.…`, `lm_head.weight`. transformers 5's in-memory names (`model.language_model.…`,
 * `model.visual.…`; some trainers save those) are renamed to them. A tied checkpoint has no
 * `lm_head.weight` (one stored anyway is dropped, as transformers ties it to the embedding);
 * `lmHead()` gives the head either way.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { readSafetensorsFile, type NamedTensor, type ReadOptions, type TensorMap } from '../safetensors';
import { readShardedSafetensors, readShardIndex } from '../shards';
import { parseQwenConfig, type QwenConfig, type QwenImageProcessorConfig } from './config';
import { QwenChat, QwenTokenizer, type ChatMessage, type RenderOptions } from './chat';
import { parseJsonFile } from '../../data/jsonErrors';

/** Where each part of the folder came from. */
export interface QwenFolderPaths {
  config: string;
  /** model.safetensors, or the shards in name order: the order weightsSha digests them in. */
  weights: string[];
  /** model.safetensors.index.json, for a sharded checkpoint. */
  index: string | null;
  tokenizer: string;
  tokenizerConfig: string | null;
  /** The file the chat template was read from. */
  chatTemplate: string;
  /** processor_config.json or preprocessor_config.json; null when the class defaults apply. */
  imageProcessor: string | null;
}

export interface QwenFolder {
  dir: string;
  config: QwenConfig;
  /** float32 (int32 for I32) tensors under the hub's names (see above). */
  weights: TensorMap;
  tokenizer: QwenTokenizer;
  chat: QwenChat;
  renderChat(messages: readonly ChatMessage[], options?: RenderOptions): string;
  imageProcessor: QwenImageProcessorConfig;
  /** sha256 over the weight files' bytes, one after the other in `paths.weights` order. */
  weightsSha: string;
  paths: QwenFolderPaths;
  /** = paths.weights. */
  weightFiles: string[];
  /** The output projection: `lm_head.weight`, or the embedding when tied. */
  lmHead(): NamedTensor;
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

const whatAFolderHolds =
  'A Qwen2-VL / Qwen2.5-VL model folder holds config.json, the weights (model.safetensors, or ' +
  'model-0000N-of-0000M.safetensors shards with model.safetensors.index.json), tokenizer.json and the ' +
  'chat template (chat_template.json, chat_template.jinja or tokenizer_config.json), as the Hugging Face ' +
  'hub or save_pretrained writes them';

function readJson(file: string): Record<string, unknown> {
  const json = parseJsonFile(file);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserError('invalid_input', `${file}: not a JSON object`);
  return json as Record<string, unknown>;
}

const asUserError = (error: unknown) =>
  error instanceof UserError ? error : new UserError('invalid_input', (error as Error).message);

/** model.safetensors, or the shards its index names (sorted); undefined when there are none. */
function findWeights(dir: string): { files: string[]; index: string | null } | undefined {
  const single = path.join(dir, 'model.safetensors');
  if (existsSync(single)) return { files: [single], index: null };
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexFile)) return undefined;
  try {
    return { files: readShardIndex(indexFile).shards, index: indexFile };
  } catch (error) {
    throw asUserError(error);
  }
}

/** The weight files, with a clear message when there are none. */
export function weightFilesOf(dir: string): string[] {
  const found = findWeights(dir);
  if (!found) throw new UserError('invalid_input', missingMessage(dir, ['weights']));
  return found.files;
}

function missingMessage(dir: string, missing: string[]): string {
  const bin = ['pytorch_model.bin', 'model.bin', 'pytorch_model.bin.index.json'].find((f) =>
    existsSync(path.join(dir, f)),
  );
  const parts = missing.map((m) =>
    m === 'weights'
      ? bin
        ? `no safetensors weights (they are in ${bin}, PyTorch's pickle format, which vrft does not read: ` +
          'save the model again with save_pretrained(..., safe_serialization=True))'
        : 'no weights (model.safetensors, or shards with model.safetensors.index.json)'
      : `no ${m}`,
  );
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0];
  return `${dir} is not a complete model folder: it has ${list}. ${whatAFolderHolds}.`;
}

/** transformers 5's module paths → the hub's checkpoint names. */
export function hubName(name: string): string {
  if (name.startsWith('model.language_model.')) return `model.${name.slice('model.language_model.'.length)}`;
  if (name.startsWith('model.visual.')) return name.slice('model.'.length);
  return name;
}

/** A chat_template value: a string, or transformers' list of named templates (the "default" one). */
function templateText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const found = named.find((t) => t.name === 'default') ?? (named.length === 1 ? named[0] : undefined);
    return typeof found?.template === 'string' ? found.template : undefined;
  }
  return undefined;
}

/**
 * The chat template, in the processor's order (transformers 5's ProcessorMixin): the hub's legacy
 * chat_template.json, then chat_template.jinja, then tokenizer_config.json's.
 */
function chatTemplateOf(
  dir: string,
  tokenizerConfig: Record<string, unknown>,
): { template: string; file: string } | undefined {
  const json = path.join(dir, 'chat_template.json');
  if (existsSync(json)) {
    const template = templateText(readJson(json).chat_template);
    if (template === undefined) throw new UserError('invalid_input', `${json}: has no chat_template string`);
    return { template, file: json };
  }
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return { template: readFileSync(jinja, 'utf8'), file: jinja };
  const template = templateText(tokenizerConfig.chat_template);
  if (template !== undefined) return { template, file: path.join(dir, 'tokenizer_config.json') };
  return undefined;
}

/** Throws what loadQwenFolder would about a folder's chat template: none there, or one that is not a string. */
export function checkChatTemplate(dir: string): void {
  const tokenizerConfigFile = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : {};
  if (!chatTemplateOf(dir, tokenizerConfig))
    throw new UserError('invalid_input', missingMessage(dir, ['chat template']));
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const triple = (v: unknown, fallback: [number, number, number]): [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')
    ? (v as [number, number, number])
    : fallback;

/** Qwen2VLImageProcessor's class defaults (QWEN.md §1): only where nothing is configured. */
export const defaultImageProcessor: QwenImageProcessorConfig = {
  minPixels: 56 * 56,
  maxPixels: 28 * 28 * 1280,
  patchSize: 14,
  temporalPatchSize: 2,
  mergeSize: 2,
  imageMean: [0.48145466, 0.4578275, 0.40821073],
  imageStd: [0.26862954, 0.26130258, 0.27577711],
};

/**
 * The image processor's settings and the file they came from. As transformers 5 loads them:
 * `processor_config.json["image_processor"]` when there is one, else `preprocessor_config.json`;
 * within it, `min_pixels` / `max_pixels` (the hub's) override `size.shortest_edge` /
 * `size.longest_edge` (transformers 5's, TRL's).
 */
export function imageProcessorSettings(dir: string): {
  settings: QwenImageProcessorConfig;
  file: string | null;
} {
  let raw: Record<string, unknown> | undefined;
  let file: string | null = null;
  const proc = path.join(dir, 'processor_config.json');
  const pre = path.join(dir, 'preprocessor_config.json');
  if (existsSync(proc)) {
    const nested = readJson(proc).image_processor;
    if (typeof nested === 'object' && nested !== null)
      [raw, file] = [nested as Record<string, unknown>, proc];
  }
  if (!raw && existsSync(pre)) [raw, file] = [readJson(pre), pre];
  raw ??= {};
  const size = (typeof raw.size === 'object' && raw.size !== null ? raw.size : {}) as Record<string, unknown>;
  const d = defaultImageProcessor;
  const settings: QwenImageProcessorConfig = {
    minPixels: num(raw.min_pixels) ?? num(size.shortest_edge) ?? num(size.min_pixels) ?? d.minPixels,
    maxPixels: num(raw.max_pixels) ?? num(size.longest_edge) ?? num(size.max_pixels) ?? d.maxPixels,
    patchSize: num(raw.patch_size) ?? d.patchSize,
    temporalPatchSize: num(raw.temporal_patch_size) ?? d.temporalPatchSize,
    mergeSize: num(raw.merge_size) ?? d.mergeSize,
    imageMean: triple(raw.image_mean, d.imageMean),
    imageStd: triple(raw.image_std, d.imageStd),
  };
  if (settings.minPixels > settings.maxPixels)
    throw new UserError(
      'invalid_input',
      `${file}: min_pixels (${settings.minPixels}) is larger than max_pixels (${settings.maxPixels})`,
    );
  return { settings, file };
}

/** The image processor's settings; the class defaults only where nothing is configured. */
export function imageProcessorOf(dir: string): QwenImageProcessorConfig {
  return imageProcessorSettings(dir).settings;
}

function checkIsFolder(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UserError('not_found', `${dir} does not exist. ${whatAFolderHolds}.`);
  }
  if (!isDir)
    throw new UserError('invalid_input', `${dir} is a file: choose the model's folder. ${whatAFolderHolds}.`);
}

/** Everything but the weights: cheap, for doctor and for checking a folder before a run. */
export function readQwenFolderConfig(dir: string): QwenConfig {
  checkIsFolder(dir);
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile)) throw new UserError('invalid_input', missingMessage(dir, ['config.json']));
  try {
    return parseQwenConfig(readJson(configFile), configFile);
  } catch (error) {
    throw asUserError(error);
  }
}

export interface LoadOptions {
  /** Keep only these tensors (by hub name); the digest still covers every byte. */
  wanted?: (name: string) => boolean;
}

export function loadQwenFolder(dir: string, options: LoadOptions = {}): QwenFolder {
  checkIsFolder(dir);
  const configFile = path.join(dir, 'config.json');
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizerConfigFile = path.join(dir, 'tokenizer_config.json');
  // model_type first: a folder of another model says so rather than listing what it lacks.
  const config = existsSync(configFile) ? readQwenFolderConfig(dir) : undefined;
  const tokenizerConfig = existsSync(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : {};
  const weights = findWeights(dir);
  const template = chatTemplateOf(dir, tokenizerConfig);
  const missing = [
    ...(config ? [] : ['config.json']),
    ...(weights ? [] : ['weights']),
    ...(existsSync(tokenizerFile) ? [] : ['tokenizer.json']),
    ...(template ? [] : ['chat template']),
  ];
  if (missing.length || !config || !weights || !template)
    throw new UserError('invalid_input', missingMessage(dir, missing));

  const tokenizer = new QwenTokenizer(() => readJson(tokenizerFile), tokenizerConfig);
  let chat: QwenChat;
  try {
    chat = new QwenChat(tokenizer, template.template);
  } catch (error) {
    throw new UserError(
      'invalid_input',
      `${template.file}: the chat template does not parse (${(error as Error).message})`,
    );
  }
  const { settings: imageProcessor, file: imageProcessorFile } = imageProcessorSettings(dir);

  const hash = createHash('sha256');
  const tensors = readWeights(weights, config, { hash, wanted: options.wanted });
  const folder: QwenFolder = {
    dir,
    config,
    weights: tensors,
    tokenizer,
    chat,
    renderChat: (messages, renderOptions) => chat.renderChat(messages, renderOptions),
    imageProcessor,
    weightsSha: hash.digest('hex'),
    paths: {
      config: configFile,
      weights: weights.files,
      index: weights.index,
      tokenizer: tokenizerFile,
      tokenizerConfig: existsSync(tokenizerConfigFile) ? tokenizerConfigFile : null,
      chatTemplate: template.file,
      imageProcessor: imageProcessorFile,
    },
    weightFiles: weights.files,
    lmHead() {
      const head = tensors.get('lm_head.weight') ?? tensors.get('model.embed_tokens.weight');
      if (!head) throw new Error(`${dir}: neither lm_head.weight nor model.embed_tokens.weight was loaded`);
      return head;
    },
  };
  return folder;
}

/** The checkpoint's tensors under hub names, one pass over the bytes (which `hash` digests). */
function readWeights(
  found: { files: string[]; index: string | null },
  config: QwenConfig,
  { hash, wanted }: { hash: ReadOptions['hash']; wanted?: (name: string) => boolean },
): TensorMap {
  const tied = config.text.tieWordEmbeddings;
  const keep = (name: string) => {
    const hub = hubName(name);
    return !(tied && hub === 'lm_head.weight') && (!wanted || wanted(hub));
  };
  let tensors: TensorMap;
  try {
    tensors = found.index
      ? readShardedSafetensors(found.index, { wanted: keep, hash })
      : readSafetensorsFile(found.files[0]!, { wanted: keep, hash });
  } catch (error) {
    throw asUserError(error);
  }
  const dir = path.dirname(found.files[0]!);
  const weights: TensorMap = new Map();
  const from = new Map<string, string>();
  for (const [name, t] of tensors) {
    const hub = hubName(name);
    if (weights.has(hub))
      throw new UserError(
        'invalid_input',
        `${dir}: ${name} and ${from.get(hub)} are the same weight (${hub}); a checkpoint holds each once`,
      );
    weights.set(hub, t);
    from.set(hub, name);
  }
  if (!tied && !weights.has('lm_head.weight') && (!wanted || wanted('lm_head.weight')))
    throw new UserError(
      'invalid_input',
      `${dir}: config.json says the output head is untied (tie_word_embeddings false), ` +
        'but the weights have no lm_head.weight',
    );
  return weights;
}

/** sha256 over the weight files in order, streamed in 64 MiB pieces (what loadQwenFolder's weightsSha is). */
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
