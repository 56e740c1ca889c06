/**
 * Loading a local Hugging Face Qwen folder, checked against what transformers 5.18 makes of the same
 * folders (test/fixtures/qwen/chat_cases.json, tools/reference/qwen_tokenizer.py): config shapes,
 * weights (names and checksums as transformers loads them in float32, the BF16 shards included),
 * tied and untied heads, the image processor's settings and the chat template's file; the load's
 * time and memory; and what a folder that is not one (or not a Qwen) is told.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, writeSafetensors, type TensorMap } from '../../../src/main/models/safetensors';
import {
  defaultImageProcessor,
  hubName,
  imageProcessorOf,
  loadQwenFolder,
  readQwenFolderConfig,
  weightsSha256,
  type QwenFolder,
} from '../../../src/main/models/qwen2-vl/folder';

const fixtures = path.join(__dirname, '../../fixtures/qwen');
interface Checksum {
  shape: number[];
  sum: number;
  absSum: number;
  first: number[];
}
interface FolderCase {
  folder: string;
  template: string;
  imageProcessor: Record<string, unknown>;
  weights: {
    names: string[];
    tied: boolean;
    headIsEmbedding: boolean;
    total: number;
    tensors: Record<string, Checksum>;
  };
}
const cases = JSON.parse(readFileSync(path.join(fixtures, 'chat_cases.json'), 'utf8')) as {
  folders: FolderCase[];
  imageProcessorCases: { name: string; files: Record<string, unknown>; expected: Record<string, unknown> }[];
  templateCases: { name: string; files: Record<string, unknown>; template: string }[];
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vrft-qwen-folder-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const f64Sum = (data: ArrayLike<number>, abs = false) => {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += abs ? Math.abs(data[i]!) : data[i]!;
  return s;
};
/** Byte equality (vitest's toEqual walks a 10M-element array one element at a time). */
const sameData = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const close = (got: number, want: number) =>
  expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));

/** A folder in tmp holding links to `from`'s files (all but `except`), plus `files` written as given. */
function variant(from: string, files: Record<string, unknown> = {}, except: string[] = []): string {
  const dir = mkdtempSync(path.join(tmp, 'folder-'));
  for (const name of [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'chat_template.json',
    'chat_template.jinja',
    'preprocessor_config.json',
    'processor_config.json',
    'model.safetensors',
    'model.safetensors.index.json',
    'model-00001-of-00002.safetensors',
    'model-00002-of-00002.safetensors',
  ]) {
    if (except.includes(name) || name in files) continue;
    if (existsSync(path.join(from, name))) symlinkSync(path.join(from, name), path.join(dir, name));
  }
  for (const [name, content] of Object.entries(files))
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

describe.each(cases.folders.map((c) => [c.folder, c] as const))('%s', (name, c) => {
  const dir = path.join(fixtures, name);
  let folder: QwenFolder;
  beforeAll(() => {
    folder = loadQwenFolder(dir);
  });

  it('reads the config in its shape (flat hub or nested transformers 5)', () => {
    const family = name.startsWith('qwen2.5') ? 'qwen2.5-vl' : 'qwen2-vl';
    expect(folder.config.family).toBe(family);
    expect(folder.config.text).toMatchObject({
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      mropeSection: [2, 3, 3],
      ropeTheta: 1e6,
      vocabSize: 151936,
      tieWordEmbeddings: c.weights.tied,
    });
    expect(folder.config.vision.hiddenSize).toBe(32);
    expect(folder.config.vision.depth).toBe(family === 'qwen2-vl' ? 2 : 4);
  });

  it('holds every weight transformers holds, under the hub names, in float32', () => {
    const expected = c.weights.names
      .map(hubName)
      .filter((n) => !(c.weights.tied && n === 'lm_head.weight'))
      .sort();
    expect([...folder.weights.keys()].sort()).toEqual(expected);
    for (const t of folder.weights.values()) expect(t.data).toBeInstanceOf(Float32Array);
    expect(folder.weights.has('model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(folder.weights.has('visual.patch_embed.proj.weight')).toBe(true);
  });

  it('has the values transformers loads (sums, first values), the head tied or not', () => {
    for (const [torchName, want] of Object.entries(c.weights.tensors)) {
      const t = torchName === 'lm_head.weight' ? folder.lmHead() : folder.weights.get(hubName(torchName))!;
      expect(t.shape, torchName).toEqual(want.shape);
      expect([...t.data.subarray(0, want.first.length)], torchName).toEqual(want.first);
      close(f64Sum(t.data), want.sum);
      close(f64Sum(t.data, true), want.absSum);
    }
    close(
      [...folder.weights.values()].reduce((s, t) => s + f64Sum(t.data), 0),
      c.weights.total,
    );
    if (c.weights.headIsEmbedding)
      expect(folder.lmHead()).toBe(folder.weights.get('model.embed_tokens.weight'));
    else expect(folder.lmHead()).toBe(folder.weights.get('lm_head.weight'));
  });

  it('has the image processor settings transformers has', () => {
    expect(folder.imageProcessor).toEqual(c.imageProcessor);
  });

  it('finds the chat template transformers finds, and says which file each part came from', () => {
    expect(folder.chat.template).toBe(c.template);
    const sharded = name.endsWith('bf16');
    expect(folder.paths).toEqual({
      config: path.join(dir, 'config.json'),
      weights: sharded
        ? [
            path.join(dir, 'model-00001-of-00002.safetensors'),
            path.join(dir, 'model-00002-of-00002.safetensors'),
          ]
        : [path.join(dir, 'model.safetensors')],
      index: sharded ? path.join(dir, 'model.safetensors.index.json') : null,
      tokenizer: path.join(dir, 'tokenizer.json'),
      tokenizerConfig: path.join(dir, 'tokenizer_config.json'),
      chatTemplate: path.join(dir, name.startsWith('qwen2.5') ? 'chat_template.jinja' : 'chat_template.json'),
      imageProcessor: path.join(
        dir,
        name.startsWith('qwen2.5') ? 'processor_config.json' : 'preprocessor_config.json',
      ),
    });
  });

  it('digests the weight files (sha256 of their bytes, in order)', () => {
    const hash = createHash('sha256');
    for (const f of folder.paths.weights) hash.update(readFileSync(f));
    expect(folder.weightsSha).toBe(hash.digest('hex'));
    expect(weightsSha256(folder.paths.weights)).toBe(folder.weightsSha);
  });
});

describe('BF16 shards and the F32 file', () => {
  it('hold the same weights to BF16 rounding (round to nearest even)', () => {
    const f32 = loadQwenFolder(path.join(fixtures, 'qwen2-vl/checkpoint')).weights;
    const bf16 = loadQwenFolder(path.join(fixtures, 'qwen2-vl/checkpoint-bf16')).weights;
    expect([...bf16.keys()].sort()).toEqual([...f32.keys()].sort());
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    const toBf16 = (x: number) => {
      asFloat[0] = x;
      const b = bits[0]!;
      bits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
      return asFloat[0];
    };
    for (const [name, t] of f32) {
      const other = bf16.get(name)!;
      expect(other.shape, name).toEqual(t.shape);
      let mismatches = 0;
      for (let i = 0; i < t.data.length; i++) if (toBf16(t.data[i]!) !== other.data[i]) mismatches++;
      expect(mismatches, name).toBe(0);
    }
  });

  it('the sharded BF16 checkpoint loads holding ≤ 1.2× its float32 weights', () => {
    const dir = path.join(fixtures, 'qwen2-vl/checkpoint-bf16');
    const folder = loadQwenFolder(dir);
    // What the loaded weights keep alive: every distinct buffer under them, whole (a tensor that
    // were a view into a file-sized buffer, or a BF16 staging copy kept, would count here).
    const buffers = new Set([...folder.weights.values()].map((t) => t.data.buffer));
    const held = [...buffers].reduce((n, b) => n + b.byteLength, 0);
    const f32 = [...folder.weights.values()].reduce((n, t) => n + t.data.length * 4, 0);
    console.log(
      `bf16 sharded load held ${(held / 2 ** 20).toFixed(1)} MiB ` +
        `for ${(f32 / 2 ** 20).toFixed(1)} MiB of float32 weights (${(held / f32).toFixed(3)}×)`,
    );
    expect(f32).toBeGreaterThan(30 * 2 ** 20);
    expect(held).toBeLessThanOrEqual(1.2 * f32);
  });
});

describe('weight names', () => {
  const source = path.join(fixtures, 'qwen2.5-vl/checkpoint');
  const hub = () => readSafetensorsFile(path.join(source, 'model.safetensors'));
  const transformers5 = (name: string) =>
    name.startsWith('model.')
      ? `model.language_model.${name.slice('model.'.length)}`
      : name.startsWith('visual.')
        ? `model.${name}`
        : name;

  it("transformers 5's in-memory names load under the hub names, same values", () => {
    const renamed: TensorMap = new Map([...hub()].map(([n, t]) => [transformers5(n), t]));
    expect(renamed.has('model.language_model.layers.0.mlp.up_proj.weight')).toBe(true);
    expect(renamed.has('model.visual.merger.mlp.0.weight')).toBe(true);
    const dir = variant(source, {}, ['model.safetensors']);
    writeSafetensors(path.join(dir, 'model.safetensors'), renamed);
    const loaded = loadQwenFolder(dir).weights;
    const original = hub();
    expect([...loaded.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [n, t] of original) expect(sameData(loaded.get(n)!.data, t.data), n).toBe(true);
  });

  it('the same weight under both names is refused', () => {
    const both: TensorMap = new Map(hub());
    both.set('model.language_model.norm.weight', both.get('model.norm.weight')!);
    const dir = variant(source, {}, ['model.safetensors']);
    writeSafetensors(path.join(dir, 'model.safetensors'), both);
    expect(() => loadQwenFolder(dir)).toThrow(
      /(model\.language_model\.norm\.weight and model\.norm\.weight|model\.norm\.weight and model\.language_model\.norm\.weight) are the same weight \(model\.norm\.weight\); a checkpoint holds each once/,
    );
  });

  it('a tied checkpoint that stores lm_head anyway uses the embedding (as transformers ties it)', () => {
    const tiedSource = path.join(fixtures, 'qwen2-vl/checkpoint');
    const withHead = readSafetensorsFile(path.join(tiedSource, 'model.safetensors'));
    withHead.set('lm_head.weight', { shape: [151936, 64], data: new Float32Array(151936 * 64) });
    const dir = variant(tiedSource, {}, ['model.safetensors']);
    writeSafetensors(path.join(dir, 'model.safetensors'), withHead);
    const folder = loadQwenFolder(dir);
    expect(folder.weights.has('lm_head.weight')).toBe(false);
    expect(folder.lmHead()).toBe(folder.weights.get('model.embed_tokens.weight'));
  });

  it('an untied config without lm_head says so', () => {
    const noHead = hub();
    noHead.delete('lm_head.weight');
    const dir = variant(source, {}, ['model.safetensors']);
    writeSafetensors(path.join(dir, 'model.safetensors'), noHead);
    expect(() => loadQwenFolder(dir)).toThrow(
      `${dir}: config.json says the output head is untied (tie_word_embeddings false), but the weights have no lm_head.weight`,
    );
  });

  it('a filter keeps some tensors; the digest still covers the files', () => {
    const dir = path.join(fixtures, 'qwen2-vl/checkpoint-bf16');
    const vision = loadQwenFolder(dir, { wanted: (n) => n.startsWith('visual.') });
    expect([...vision.weights.keys()].every((n) => n.startsWith('visual.'))).toBe(true);
    const all = [...loadQwenFolder(dir).weights.keys()].filter((n) => n.startsWith('visual.'));
    expect([...vision.weights.keys()].sort()).toEqual(all.sort());
    expect(vision.weightsSha).toBe(weightsSha256(vision.paths.weights));
  });
});

describe('image processor settings: transformers’ precedence', () => {
  it.each(cases.imageProcessorCases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const dir = mkdtempSync(path.join(tmp, 'processor-'));
    for (const [name, content] of Object.entries(c.files))
      writeFileSync(path.join(dir, name), JSON.stringify(content));
    expect(imageProcessorOf(dir)).toEqual(c.expected);
  });

  it('the class defaults apply only when nothing is configured', () => {
    expect(imageProcessorOf(mkdtempSync(path.join(tmp, 'bare-')))).toEqual(defaultImageProcessor);
    expect(defaultImageProcessor).toMatchObject({ minPixels: 3136, maxPixels: 1003520 });
  });
});

describe('chat template: transformers’ precedence', () => {
  const source = path.join(fixtures, 'qwen2-vl/checkpoint');
  it.each(cases.templateCases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const dir = variant(source, c.files, ['chat_template.json', 'chat_template.jinja']);
    expect(loadQwenFolder(dir).chat.template).toBe(c.template);
  });

  it('a template that does not parse names its file', () => {
    const dir = variant(source, { 'chat_template.jinja': '{% for %}' }, ['chat_template.json']);
    expect(() => loadQwenFolder(dir)).toThrow(
      `${path.join(dir, 'chat_template.jinja')}: the chat template does not parse`,
    );
  });
});

describe('folders that are not (Qwen) model folders', () => {
  const source = path.join(fixtures, 'qwen2-vl/checkpoint');

  it('another model_type: what is supported', () => {
    const config = JSON.parse(readFileSync(path.join(source, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const dir = variant(source, { 'config.json': { ...config, model_type: 'llava' } });
    const message =
      `${path.join(dir, 'config.json')}: model_type "llava" is not a model vrft can load; ` +
      "supported: qwen2_vl, qwen2_5_vl (and vrft's own tiny-vlm)";
    expect(() => loadQwenFolder(dir)).toThrow(message);
    expect(() => readQwenFolderConfig(dir)).toThrow(message);
  });

  it('no weights: what is missing and what a model folder holds', () => {
    const dir = variant(source, {}, ['model.safetensors']);
    expect(() => loadQwenFolder(dir)).toThrow(
      `${dir} is not a complete model folder: it has no weights (model.safetensors, or shards with ` +
        'model.safetensors.index.json). A Qwen2-VL / Qwen2.5-VL model folder holds config.json, the weights',
    );
  });

  it('PyTorch pickle weights: save again as safetensors', () => {
    const dir = variant(source, { 'pytorch_model.bin': 'not really' }, ['model.safetensors']);
    expect(() => loadQwenFolder(dir)).toThrow(
      /they are in pytorch_model\.bin, PyTorch's pickle format.*safe_serialization=True/,
    );
  });

  it('an empty folder lists everything it lacks; a missing path and a file say so', () => {
    const dir = mkdtempSync(path.join(tmp, 'empty-'));
    expect(() => loadQwenFolder(dir)).toThrow(
      `${dir} is not a complete model folder: it has no config.json, no weights (model.safetensors, or shards ` +
        'with model.safetensors.index.json), no tokenizer.json and no chat template.',
    );
    expect(() => loadQwenFolder(path.join(dir, 'nope'))).toThrow(`${path.join(dir, 'nope')} does not exist.`);
    expect(() => loadQwenFolder(path.join(source, 'config.json'))).toThrow(
      `${path.join(source, 'config.json')} is a file: choose the model's folder.`,
    );
  });

  it('a shard the index names is missing; a truncated shard names its file', () => {
    const bf16 = path.join(fixtures, 'qwen2-vl/checkpoint-bf16');
    const missing = variant(bf16, {}, ['model-00002-of-00002.safetensors']);
    expect(() => loadQwenFolder(missing)).toThrow(
      `${path.join(missing, 'model.safetensors.index.json')} names model-00002-of-00002.safetensors, which is not in ${missing}`,
    );
    const truncated = variant(bf16, {}, ['model-00002-of-00002.safetensors']);
    const shard = path.join(truncated, 'model-00002-of-00002.safetensors');
    const bytes = readFileSync(path.join(bf16, 'model-00002-of-00002.safetensors'));
    writeFileSync(shard, bytes.subarray(0, bytes.length - 100));
    expect(() => loadQwenFolder(truncated)).toThrow(
      new RegExp(`^${shard}: .* runs past the end of the file .*truncated`),
    );
  });

  it('no tokenizer.json, no chat template', () => {
    const dir = variant(source, {}, ['tokenizer.json', 'chat_template.json']);
    expect(() => loadQwenFolder(dir)).toThrow(/it has no tokenizer\.json and no chat template\./);
  });

  it('a copy of the folder loads the same (files, not links)', () => {
    const dir = mkdtempSync(path.join(tmp, 'copy-'));
    for (const f of [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'chat_template.json',
      'model.safetensors',
    ])
      copyFileSync(path.join(source, f), path.join(dir, f));
    const folder = loadQwenFolder(dir);
    expect(folder.paths.imageProcessor).toBeNull();
    expect(folder.imageProcessor).toEqual(defaultImageProcessor);
    expect(folder.weightsSha).toBe(loadQwenFolder(source).weightsSha);
  });
});
