/**
 * What a model folder is, without loading it: its kind and a one-line description from config.json,
 * whether its weights are there, and a cheap fingerprint of those weights. The Train view shows
 * this as a folder is picked; a run records it in the workspace's `model` table.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { readAdapterFolder } from './adapterFolder';
import { modelKindOf } from './index';
import type { PolicyKind } from './policy';
import { parseQwenConfig, type QwenConfig } from './qwen2-vl/config';
import { checkChatTemplate, hubName } from './qwen2-vl/folder';
import { qwenWeightShapes } from './qwen2-vl/weightShapes';
import { readSafetensorsHeader, type SafetensorsHeader } from './safetensors';
import { readShardIndex } from './shards';
import { readTokenizerJson } from './tokenizer';

export interface ModelFolderInfo {
  /** The folder, absolute. */
  dir: string;
  kind: PolicyKind;
  /** One line for a list: "Qwen2-VL · 2 layers · hidden 64", "tiny-vlm · 3 layers · width 128". */
  description: string;
  /** config.json as parsed. */
  config: Record<string, unknown>;
}

const familyNames: Record<PolicyKind, string> = {
  'tiny-vlm': 'tiny-vlm',
  'qwen2-vl': 'Qwen2-VL',
  'qwen2.5-vl': 'Qwen2.5-VL',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The weight files a folder holds, in the order they are fingerprinted; empty when there are none. */
export function weightFiles(dir: string): string[] {
  const adapter = path.join(dir, 'adapter_model.safetensors');
  // A LoRA folder (vrft's or PEFT's) holds the adapters; its base is another folder.
  if (existsSync(path.join(dir, 'adapter_config.json'))) return existsSync(adapter) ? [adapter] : [];
  const single = path.join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const index = path.join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) return [];
  try {
    return [index, ...readShardIndex(index).shards];
  } catch (error) {
    throw new UserError('invalid_input', (error as Error).message);
  }
}

/**
 * One line saying what a config.json describes ("Qwen2-VL · 2 layers · hidden 64"); just the family
 * when the config does not parse (inspectModelFolder says why).
 */
export function describeModel(kind: PolicyKind, config: Record<string, unknown>): string {
  const parts = [familyNames[kind]];
  if (kind === 'tiny-vlm') {
    const n = (key: string) => (typeof config[key] === 'number' ? (config[key] as number) : undefined);
    const [layers, width, image] = [n('nLayers'), n('dModel'), n('imageSize')];
    if (layers !== undefined) parts.push(plural(layers, 'layer'));
    if (width !== undefined) parts.push(`width ${width}`);
    if (image !== undefined) parts.push(`${image} px input`);
  } else {
    try {
      const { text } = parseQwenConfig(config);
      parts.push(plural(text.numLayers, 'layer'), `hidden ${text.hiddenSize}`);
    } catch {
      // the family alone
    }
  }
  return parts.join(' · ');
}

/**
 * A model folder's kind and description, checked as far as that is cheap: config.json names a
 * model vrft loads and parses as one, and weights are there. Throws a UserError that says what is
 * wrong (what the Train view shows before Start, and what refuses a run).
 */
export function inspectModelFolder(folder: string): ModelFolderInfo {
  const dir = path.resolve(folder);
  if (!existsSync(dir)) throw new UserError('not_found', `${dir} does not exist.`);
  if (!statSync(dir).isDirectory())
    throw new UserError('invalid_input', `${dir} is a file: choose the folder that holds config.json.`);
  // config.json (or an adapter's base's) there, valid JSON, a model_type vrft knows.
  const kind = modelKindOf(dir);
  const adapter = readAdapterFolder(dir);
  const own = path.join(dir, 'config.json');
  const file = existsSync(own) ? own : path.join(adapter!.base, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (kind !== 'tiny-vlm')
    try {
      parseQwenConfig(config, file);
    } catch (error) {
      throw new UserError('invalid_input', (error as Error).message);
    }
  let description = describeModel(kind, config);
  if (adapter) description += ` · LoRA r ${typeof adapter.json.r === 'number' ? adapter.json.r : 8}`;
  const weights = weightFiles(dir);
  if (weights.length === 0)
    throw new UserError(
      'invalid_input',
      adapter
        ? `${dir} has adapter_config.json but no adapter_model.safetensors: the LoRA weights are missing.`
        : `${dir} has no weights: it needs model.safetensors, or shards with model.safetensors.index.json` +
            (existsSync(path.join(dir, 'pytorch_model.bin')) ||
            existsSync(path.join(dir, 'pytorch_model.bin.index.json'))
              ? ` (vrft does not read PyTorch's .bin files: save the model with save_pretrained(..., safe_serialization=True)).`
              : '.'),
    );
  // The headers (kilobytes) and the tokenizer are read now, so that a damaged download is refused
  // here rather than by the trainer once a run exists.
  const shapes = new Map<string, number[]>();
  for (const file of weights.filter((f) => f.endsWith('.safetensors'))) {
    let header;
    try {
      header = readSafetensorsHeader(file);
    } catch (error) {
      throw new UserError('invalid_input', (error as Error).message);
    }
    if (kind === 'tiny-vlm' && !adapter) checkTinyVlmWeights(header, file, config);
    for (const e of header.entries) shapes.set(hubName(e.name), e.shape);
  }
  if (adapter) return { dir, kind, description, config };
  checkTokenizer(dir);
  if (kind !== 'tiny-vlm') {
    checkQwenWeights(dir, parseQwenConfig(config, file), shapes);
    checkChatTemplate(dir);
  }
  return { dir, kind, description, config };
}

/** Tokenizers found whole, by file: its size and modification time when it was read. */
const tokenizersRead = new Map<string, string>();

/**
 * The folder's tokenizer.json parses and holds a vocabulary. A Qwen tokenizer is ~11 MB of JSON and
 * the model list inspects every folder each time it is shown, so an unchanged file is read once.
 */
function checkTokenizer(dir: string): void {
  const file = path.join(dir, 'tokenizer.json');
  const stats = statSync(file, { throwIfNoEntry: false });
  const key = stats ? `${stats.size}:${stats.mtimeMs}` : undefined;
  if (key !== undefined && tokenizersRead.get(file) === key) return;
  readTokenizerJson(dir);
  if (key !== undefined) tokenizersRead.set(file, key);
}

/** A Qwen folder's tensors (from their headers) against config.json: each weight there, of its shape. */
function checkQwenWeights(dir: string, config: QwenConfig, shapes: Map<string, number[]>): void {
  const problems: string[] = [];
  for (const [name, shape] of qwenWeightShapes(config)) {
    const found = shapes.get(name);
    if (!found) problems.push(`${name} is missing`);
    else if (found.join() !== shape.join())
      problems.push(`${name} is [${found.join(', ')}], the config says [${shape.join(', ')}]`);
  }
  if (problems.length)
    throw new UserError(
      'invalid_input',
      `${dir}: the weights do not fit config.json (${config.modelType}): ${problems.slice(0, 3).join('; ')}` +
        (problems.length > 3 ? `; and ${problems.length - 3} more` : '') +
        ': the weights are of another model, or the config was edited',
    );
}

/**
 * tiny-vlm's weights against its config.json, as far as two tensors tell (the rest is checked as
 * they load): weights of another model, or a config edited after saving, are refused before a run.
 */
function checkTinyVlmWeights(header: SafetensorsHeader, file: string, config: Record<string, unknown>): void {
  const { dModel: d, maxPositions: positions } = config;
  if (typeof d !== 'number' || typeof positions !== 'number') return;
  const shapes = new Map(header.entries.map((e) => [e.name, e.shape]));
  const expected: [string, number[]][] = [
    ['decoder.embed_positions.weight', [positions, d]],
    ['decoder.ln_f.weight', [d]],
  ];
  // Layer i's tensors are named prefix.i.…: the count is the highest i + 1.
  const layersIn = (prefix: string) =>
    Math.max(
      0,
      ...header.entries
        .filter((e) => e.name.startsWith(`${prefix}.`))
        .map((e) => Number(e.name.slice(prefix.length + 1).split('.')[0]) + 1),
    );
  for (const [key, prefix] of [
    ['nLayers', 'decoder.layers'],
    ['visionLayers', 'vision.blocks'],
  ] as const) {
    const held = layersIn(prefix);
    if (typeof config[key] === 'number' && header.entries.length && held !== config[key])
      throw new UserError(
        'invalid_input',
        `${file} does not match config.json beside it: it holds ${held} ${prefix} where ${key} is ${String(config[key])}; ` +
          'the weights are of another model, or the config was edited',
      );
  }
  for (const [name, shape] of expected) {
    const found = shapes.get(name);
    if (!found)
      throw new UserError(
        'invalid_input',
        `${file} has no ${name}: these are not tiny-vlm's weights (${header.entries.length} tensors)`,
      );
    if (found.join() !== shape.join())
      throw new UserError(
        'invalid_input',
        `${file} does not match config.json beside it: ${name} is [${found.join(', ')}], where dModel ${d} ` +
          `and maxPositions ${positions} make [${shape.join(', ')}]; the weights are of another model, or the config was edited`,
      );
  }
}

/** The safetensors header of a file: its 8-byte length and the JSON after it (names, dtypes, shapes, offsets). */
function headerBytes(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(8);
    if (size < 8 || readSync(fd, prefix, 0, 8, 0) < 8) return prefix;
    // A corrupt length must not allocate gigabytes: the header is at most the file.
    const length = Math.min(Number(prefix.readBigUInt64LE(0)), size - 8, 100_000_000);
    const bytes = Buffer.alloc(8 + length);
    prefix.copy(bytes);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, bytes, 8 + done, length - done, 8 + done);
      if (n === 0) break;
      done += n;
    }
    return bytes.subarray(0, 8 + done);
  } finally {
    closeSync(fd);
  }
}

/**
 * A fingerprint of a folder's weights that reads kilobytes, not gigabytes: sha256 over each weight
 * file's name, size and safetensors header (and the shard index, for a sharded checkpoint). Weights
 * re-saved, re-sharded, converted or truncated change it; a file edited in place at the same size
 * with the same tensors does not (that takes QwenFolder.weightsSha, a full read). Null without weights.
 */
export function weightsFingerprint(folder: string): string | null {
  const files = weightFiles(path.resolve(folder));
  if (files.length === 0) return null;
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${path.basename(file)}\0${statSync(file).size}\0`);
    hash.update(file.endsWith('.json') ? readFileSync(file) : headerBytes(file));
  }
  return hash.digest('hex');
}
