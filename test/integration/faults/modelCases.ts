/**
 * Fault cases of model folders (issue 26): a copy of tiny-vlm or of the tiny Qwen2-VL fixture,
 * damaged as downloads and hand edits damage them — config.json gone, not JSON or of a model vrft
 * does not know; weights gone, cut short, of another dtype, with a garbage header; a shard index
 * naming a shard that is not there; tokenizer.json gone or cut short — then met by each command
 * that loads a model: `vrft eval --model` (refused before a run exists), `vrft generate` and
 * `vrft doctor --model`. Each message names the file and what is wrong with it.
 */
import {
  closeSync,
  cpSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { builtInModelPath } from '../../../src/main/models/installed';
import { readSafetensorsHeader } from '../../../src/main/models/safetensors';
import type { FaultCase, FaultContext } from '../../support/faults';
import { trainedRun } from './exportCases';

const group = 'model';
const sources = {
  tiny: builtInModelPath,
  qwen: path.join('test', 'fixtures', 'qwen', 'qwen2-vl', 'checkpoint'),
};

/** A copy of a model folder in the case's folder, damaged by `damage`. */
function damaged(from: keyof typeof sources, damage: (dir: string) => void) {
  return (ctx: FaultContext) => {
    const dir = path.join(ctx.dir, 'model');
    cpSync(sources[from], dir, { recursive: true });
    damage(dir);
    return dir;
  };
}

type Folder = (ctx: FaultContext) => string;

const evalOn = (folder: Folder) => (ctx: FaultContext) => [
  'eval',
  '--model',
  folder(ctx),
  '--dataset',
  'shapes',
  '--data',
  ctx.data,
];
const generateOn = (folder: Folder) => (ctx: FaultContext) => [
  'generate',
  '--model',
  folder(ctx),
  '--image',
  path.join(ctx.data, 'sw', 'images', '000001.png'),
  '--prompt',
  'How many shapes are there?',
  '--max-new-tokens',
  '4',
];
const doctorOn = (folder: Folder) => (ctx: FaultContext) => ['doctor', '--model', folder(ctx)];

// ── damage ───────────────────────────────────────────────────────────────────────────────────────

/** `name` in the folder replaced by a named pipe: a read of it would wait for a writer for ever. */
const pipeFor = (name: string) => (dir: string) => {
  rmSync(path.join(dir, name), { force: true });
  execFileSync('mkfifo', [path.join(dir, name)]);
};

const weights = (dir: string) => path.join(dir, 'model.safetensors');

function setHeaderLength(file: string, length: bigint): void {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length);
  const fd = openSync(file, 'r+');
  writeSync(fd, prefix, 0, 8, 0);
  closeSync(fd);
}

/** The header's first `from` (a dtype) turned into `to`, the same length: the file stays aligned. */
function replaceInHeader(file: string, from: string, to: string): void {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = bytes
    .subarray(8, 8 + length)
    .toString('utf8')
    .replace(from, to);
  bytes.write(header, 8, 'utf8');
  writeFileSync(file, bytes);
}

/** model.safetensors as shards: the first half of its tensors in shard 1, the rest in shard 2. */
function shard(dir: string, shards: 1 | 2): string {
  const names = readSafetensorsHeader(weights(dir)).entries.map((e) => e.name);
  const shardName = (i: number) => `model-0000${i}-of-0000${shards}.safetensors`;
  const weightMap = Object.fromEntries(
    names.map((name, i) => [name, shardName(shards === 2 && i >= names.length / 2 ? 2 : 1)]),
  );
  renameSync(weights(dir), path.join(dir, shardName(1)));
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  return path.join(dir, shardName(1));
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(file, JSON.stringify(json, null, 2));
}

const noConfig = damaged('tiny', (dir) => rmSync(path.join(dir, 'config.json')));
const configNotJson = damaged('tiny', (dir) =>
  writeFileSync(path.join(dir, 'config.json'), '{"dModel": 128,\n'),
);
const llama = damaged('tiny', (dir) =>
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 64 })),
);
const noWeights = damaged('tiny', (dir) => rmSync(weights(dir)));
const garbage = damaged('tiny', (dir) =>
  writeFileSync(weights(dir), 'this is not a safetensors file. '.repeat(64)),
);
const headerPastTheEnd = damaged('tiny', (dir) => setHeaderLength(weights(dir), 1_000_000_000n));
const f64 = damaged('tiny', (dir) => replaceInHeader(weights(dir), '"F32"', '"F64"'));
const truncated = damaged('tiny', (dir) => truncateSync(weights(dir), 100_000));
const noTensors = damaged('tiny', (dir) => {
  const header = Buffer.from('{}      ');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(weights(dir), Buffer.concat([length, header]));
});
const otherWidth = damaged('tiny', (dir) => editJson(path.join(dir, 'config.json'), (c) => (c.dModel = 64)));
const moreLayers = damaged('tiny', (dir) => editJson(path.join(dir, 'config.json'), (c) => (c.nLayers = 4)));
const qwenMoreLayers = damaged('qwen', (dir) =>
  editJson(path.join(dir, 'config.json'), (c) => (c.num_hidden_layers = 3)),
);
const noTokenizer = damaged('tiny', (dir) => rmSync(path.join(dir, 'tokenizer.json')));
const tokenizerCut = damaged('tiny', (dir) => {
  const file = path.join(dir, 'tokenizer.json');
  writeFileSync(file, readFileSync(file).subarray(0, 5000));
});

/** A LoRA adapter folder over `base`, with `weights` as its adapter_model.safetensors (none: absent). */
function adapterFolder(base: string, weights?: string, config?: string): Folder {
  return (ctx) => {
    const dir = path.join(ctx.dir, 'adapters');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'adapter_config.json'),
      config ?? JSON.stringify({ base_model_name_or_path: path.resolve(base), r: 8, peft_type: 'LORA' }),
    );
    if (weights !== undefined) writeFileSync(path.join(dir, 'adapter_model.safetensors'), weights);
    return dir;
  };
}

export const modelCases: FaultCase[] = [
  {
    group,
    name: 'eval: a model folder that does not exist',
    make: evalOn((ctx) => path.join(ctx.dir, 'no-such-model')),
    message: /"model" .*no-such-model is not a model folder \(no config\.json/,
  },
  {
    group,
    name: 'eval: a model "folder" that is a file',
    make: evalOn((ctx) => {
      writeFileSync(path.join(ctx.dir, 'model.safetensors'), 'weights');
      return path.join(ctx.dir, 'model.safetensors');
    }),
    message: /"model" .*model\.safetensors is not a model folder/,
  },
  {
    group,
    name: 'eval: no config.json',
    make: evalOn(noConfig),
    message: /"model" .*model is not a model folder \(no config\.json/,
  },
  {
    group,
    name: 'generate: no config.json',
    make: generateOn(noConfig),
    message: /model is not a model folder: it has no config\.json/,
  },
  {
    group,
    name: 'doctor: no config.json',
    make: doctorOn(noConfig),
    message: /model is not a model folder: it has no config\.json/,
  },
  {
    group,
    name: 'eval: config.json is not JSON',
    make: evalOn(configNotJson),
    message: /model[/\\]config\.json: not valid JSON at line \d+, column \d+/,
  },
  {
    group,
    name: 'doctor: config.json is not JSON',
    make: doctorOn(configNotJson),
    message: /model[/\\]config\.json: not valid JSON/,
  },
  {
    group,
    name: 'eval: config.json is a JSON list',
    make: evalOn(damaged('tiny', (dir) => writeFileSync(path.join(dir, 'config.json'), '[1, 2]'))),
    message: /model[/\\]config\.json: not a JSON object/,
  },
  {
    group,
    name: 'eval: config.json of an architecture vrft does not load',
    make: evalOn(llama),
    message: /model[/\\]config\.json: model_type "llama" is not a model vrft can load; supported: qwen2_vl/,
  },
  {
    group,
    name: 'generate: config.json of an architecture vrft does not load',
    make: generateOn(llama),
    message: /model[/\\]config\.json: model_type "llama" is not a model vrft can load/,
  },
  {
    group,
    name: 'eval: a Qwen config.json without hidden_size',
    make: evalOn(
      damaged('qwen', (dir) => editJson(path.join(dir, 'config.json'), (c) => delete c.hidden_size)),
    ),
    message: /model[/\\]config\.json: hidden_size is missing or not a number/,
  },
  {
    group,
    name: 'eval: no weights file',
    make: evalOn(noWeights),
    message: /model has no weights: it needs model\.safetensors/,
  },
  {
    group,
    name: 'generate: no weights file',
    make: generateOn(noWeights),
    message: /model has no weights: it needs model\.safetensors/,
  },
  {
    group,
    name: 'eval: PyTorch .bin weights only',
    make: evalOn(
      damaged('tiny', (dir) => {
        rmSync(weights(dir));
        writeFileSync(path.join(dir, 'pytorch_model.bin'), 'pickle');
      }),
    ),
    message: /model has no weights: .*vrft does not read PyTorch's \.bin files/,
  },
  {
    group,
    name: 'eval: weights that are garbage',
    make: evalOn(garbage),
    message: /model\.safetensors: the header \(\d+ bytes\) runs past the end of the file/,
  },
  {
    group,
    name: 'eval: a header length past the end of the file',
    make: evalOn(headerPastTheEnd),
    message: /model\.safetensors: the header \(1000000000 bytes\) runs past the end of the file/,
  },
  {
    group,
    name: 'generate: a header length past the end of the file',
    make: generateOn(headerPastTheEnd),
    message: /model\.safetensors: the header \(1000000000 bytes\) runs past the end of the file/,
  },
  {
    group,
    name: 'doctor: weights that are garbage',
    make: doctorOn(garbage),
    message: /model\.safetensors: the header \(\d+ bytes\) runs past the end of the file/,
  },
  {
    group,
    name: 'eval: a header that is not JSON',
    make: evalOn(
      damaged('tiny', (dir) => {
        const bytes = Buffer.alloc(64, '}');
        bytes.writeBigUInt64LE(40n);
        writeFileSync(weights(dir), bytes);
      }),
    ),
    message: /model\.safetensors: the header is not valid JSON/,
  },
  {
    group,
    name: 'eval: a weights file of 4 bytes',
    make: evalOn(damaged('tiny', (dir) => writeFileSync(weights(dir), 'abcd'))),
    message: /model\.safetensors: 4 bytes, too short to be a safetensors file/,
  },
  {
    group,
    name: 'eval: a dtype vrft does not read (F64)',
    make: evalOn(f64),
    message: /model\.safetensors: \S+ has dtype F64, which vrft cannot read/,
  },
  {
    group,
    name: 'generate: a dtype vrft does not read (F64)',
    make: generateOn(f64),
    message: /model\.safetensors: \S+ has dtype F64, which vrft cannot read/,
  },
  {
    group,
    name: 'eval: a weights file with no tensors (it loaded as a random model)',
    make: evalOn(noTensors),
    message:
      /model\.safetensors has no decoder\.embed_positions\.weight: these are not tiny-vlm's weights \(0 tensors\)/,
  },
  {
    group,
    name: 'generate: a weights file with no tensors',
    make: generateOn(noTensors),
    message: /model\.safetensors has no decoder\.embed_positions\.weight: these are not tiny-vlm's weights/,
  },
  {
    group,
    name: 'eval: config.json edited after saving (dModel)',
    make: evalOn(otherWidth),
    message:
      /model\.safetensors does not match config\.json beside it: decoder\.embed_positions\.weight is \[224, 128\], where dModel 64/,
  },
  {
    group,
    name: 'eval: config.json edited after saving (nLayers)',
    make: evalOn(moreLayers),
    message:
      /model\.safetensors does not match config\.json beside it: it holds 3 decoder\.layers where nLayers is 4/,
  },
  {
    group,
    name: 'generate: config.json edited after saving (nLayers)',
    make: generateOn(moreLayers),
    message:
      /model\.safetensors does not match config\.json beside it: it holds 3 decoder\.layers where nLayers is 4/,
  },
  {
    group,
    name: 'eval: a Qwen config.json edited after saving (num_hidden_layers)',
    make: evalOn(qwenMoreLayers),
    message:
      /model: the weights do not fit config\.json \(qwen2_vl\): model\.layers\.2\.input_layernorm\.weight is missing/,
  },
  {
    group,
    name: 'generate: a Qwen config.json edited after saving (num_hidden_layers)',
    make: generateOn(qwenMoreLayers),
    message: /model: the weights do not fit config\.json \(qwen2_vl\): model\.layers\.2\./,
  },
  {
    group,
    name: 'eval: a Qwen folder without a chat template',
    make: evalOn(
      damaged('qwen', (dir) => {
        rmSync(path.join(dir, 'chat_template.json'));
        editJson(path.join(dir, 'tokenizer_config.json'), (c) => delete c.chat_template);
      }),
    ),
    message: /model is not a complete model folder: it has no chat template/,
  },
  {
    group,
    name: 'eval: weights cut short',
    make: evalOn(truncated),
    message: /model\.safetensors: \S+'s data .* runs past the end of the file .*truncated/,
  },
  {
    group,
    name: 'eval: a truncated shard an index lists',
    make: evalOn(damaged('qwen', (dir) => truncateSync(shard(dir, 1), 1_000_000))),
    message: /model-00001-of-00001\.safetensors: \S+'s data .* runs past the end of the file .*truncated/,
  },
  {
    group,
    name: 'generate: an index naming a shard that is missing',
    make: generateOn(damaged('qwen', (dir) => shard(dir, 2))),
    message: /model\.safetensors\.index\.json names model-00002-of-00002\.safetensors, which is not in/,
  },
  {
    group,
    name: 'eval: an index naming a shard that is missing',
    make: evalOn(damaged('qwen', (dir) => shard(dir, 2))),
    message: /model\.safetensors\.index\.json names model-00002-of-00002\.safetensors, which is not in/,
  },
  {
    group,
    name: 'eval: a shard index that is not JSON',
    make: evalOn(
      damaged('qwen', (dir) => {
        shard(dir, 1);
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), '{"weight_map": {');
      }),
    ),
    message: /model\.safetensors\.index\.json: not valid JSON/,
  },
  {
    group,
    name: 'eval: no tokenizer.json',
    make: evalOn(noTokenizer),
    message: /model has no tokenizer\.json/,
  },
  {
    group,
    name: 'generate: no tokenizer.json',
    make: generateOn(noTokenizer),
    message: /model has no tokenizer\.json/,
  },
  {
    group,
    name: 'eval: tokenizer.json cut short',
    make: evalOn(tokenizerCut),
    message: /model[/\\]tokenizer\.json: not valid JSON at line \d+, column \d+/,
  },
  {
    group,
    name: 'generate: tokenizer.json cut short',
    make: generateOn(tokenizerCut),
    message: /model[/\\]tokenizer\.json: not valid JSON/,
  },
  {
    group,
    name: 'eval: a Qwen folder without tokenizer.json',
    make: evalOn(damaged('qwen', (dir) => rmSync(path.join(dir, 'tokenizer.json')))),
    message: /model has no tokenizer\.json/,
  },
  {
    group,
    name: 'eval: adapters over a base folder that is not there',
    make: evalOn(adapterFolder('/nowhere/base', 'x')),
    message: /adapter_config\.json: base_model_name_or_path "\/nowhere\/base" is not a model folder here/,
  },
  {
    group,
    name: 'eval: adapter_config.json that is not JSON',
    make: evalOn(adapterFolder(sources.qwen, 'x', '{"r": 8,')),
    message: /adapters[/\\]adapter_config\.json: not valid JSON/,
  },
  {
    group,
    name: 'eval: adapters without adapter_model.safetensors',
    make: evalOn(adapterFolder(sources.qwen)),
    message: /adapters has adapter_config\.json but no adapter_model\.safetensors/,
  },
  {
    group,
    name: 'eval: adapter weights that are garbage',
    make: evalOn(adapterFolder(sources.qwen, 'garbage\n')),
    message: /adapter_model\.safetensors: the header \(\d+ bytes\) runs past the end of the file/,
  },
  {
    group,
    name: "eval --run: the run's model folder is gone",
    make: async (ctx) => {
      const run = await trainedRun(ctx);
      rmSync(path.join(ctx.data, 'runs', run, 'model'), { recursive: true });
      return ['eval', '--run', run, '--split', '1-shot-eval', '--data', ctx.data];
    },
    message: /"model" .*runs[/\\]1[/\\]model is not a model folder/,
    limit: 60,
  },
  {
    group,
    name: "eval --run: the run's weights cut short",
    make: async (ctx) => {
      const run = await trainedRun(ctx);
      truncateSync(path.join(ctx.data, 'runs', run, 'model', 'model.safetensors'), 1000);
      return ['eval', '--run', run, '--split', '1-shot-eval', '--data', ctx.data];
    },
    message:
      /runs[/\\]1[/\\]model[/\\]model\.safetensors: the header \(\d+ bytes\) runs past the end of the file/,
    limit: 60,
  },
  {
    group,
    name: 'eval: config.json is a named pipe',
    make: evalOn(damaged('tiny', pipeFor('config.json'))),
    message: /model[/\\]config\.json is a named pipe, not a file: a model folder holds files only/,
  },
  {
    group,
    name: 'generate: tokenizer.json is a named pipe',
    make: generateOn(damaged('qwen', pipeFor('tokenizer.json'))),
    message: /model[/\\]tokenizer\.json is a named pipe, not a file/,
  },
  {
    group,
    name: 'doctor: the weights are a named pipe',
    make: doctorOn(damaged('qwen', pipeFor('model.safetensors'))),
    message: /model[/\\]model\.safetensors is a named pipe, not a file/,
  },
];
