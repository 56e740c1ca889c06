/**
 * Fault cases of run configs (issue 26): `vrft train --config FILE` with a config that is wrong —
 * a typo'd key, an absurd value, a name of something that is not there, a file that is not JSON —
 * and `vrft eval` with flags of the same kinds. Each must be refused before a run exists, with a
 * message naming the file and key (or the flag) and what is wrong.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FaultCase, FaultContext } from '../../support/faults';

const group = 'config';
const tinyVlm = path.join('resources', 'models', 'tiny-vlm-base');

/** A config file `run.json` (a JSON value, or text as it is) and the `vrft train` that reads it. */
function train(method: 'sft' | 'grpo', config: object | string, name = 'run.json') {
  return (ctx: FaultContext) => {
    const file = path.join(ctx.dir, name);
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
    return ['train', '--method', method, '--config', file, '--data', ctx.data];
  };
}

/** `vrft eval` of the built-in model on "shapes", with `flags` added. */
function evaluate(...flags: string[]) {
  return (ctx: FaultContext) => [
    'eval',
    '--model',
    tinyVlm,
    '--dataset',
    'shapes',
    ...flags,
    '--data',
    ctx.data,
  ];
}

const base = { dataset: 'shapes', steps: 2 };

const trainCases: FaultCase[] = [
  {
    group,
    name: 'train: a typo’d key names the nearest key',
    make: train('sft', { ...base, learningRat: 0.001 }),
    message: /run\.json: unknown key "learningRat" \(did you mean "learningRate"\?\)/,
  },
  {
    group,
    name: 'train: a typo’d GRPO key names the nearest key',
    make: train('grpo', { ...base, numGeneration: 4 }),
    message: /run\.json: unknown key "numGeneration" \(did you mean "numGenerations"\?\)/,
  },
  {
    group,
    name: 'train: a typo’d key inside lora names its path',
    make: train('grpo', { ...base, lora: { rnak: 4 } }),
    message: /run\.json: unknown key "lora\.rnak" \(did you mean "lora\.rank"\?\)/,
  },
  {
    group,
    name: 'train: steps 0',
    make: train('sft', { ...base, steps: 0 }),
    message: /run\.json: "steps": Too small: expected number to be >=1/,
  },
  {
    group,
    name: 'train: steps 1e12',
    make: train('grpo', { ...base, steps: 1e12 }),
    message: /run\.json: "steps": Too big: expected number to be <=1000000/,
  },
  {
    group,
    name: 'train: learning rate NaN (not JSON)',
    make: train('sft', '{"dataset": "shapes", "steps": 2, "learningRate": NaN}'),
    message: /run\.json: not valid JSON.*NaN and Infinity are not JSON/,
  },
  {
    group,
    name: 'train: a negative learning rate',
    make: train('sft', { ...base, learningRate: -0.001 }),
    message: /run\.json: "learningRate": Too small: expected number to be >0/,
  },
  {
    group,
    name: 'train: learning rate "abc"',
    make: train('grpo', { ...base, learningRate: 'abc' }),
    message: /run\.json: "learningRate": .*expected number, received string/,
  },
  {
    group,
    name: 'train: batch size 0',
    make: train('sft', { ...base, batchSize: 0 }),
    message: /run\.json: "batchSize": Too small: expected number to be >=1/,
  },
  {
    group,
    name: 'train: GRPO with one generation per prompt (no group to compare)',
    make: train('grpo', { ...base, numGenerations: 1 }),
    message: /run\.json: "numGenerations": Too small: expected number to be >=2/,
  },
  {
    group,
    name: 'train: temperature −1',
    make: train('grpo', { ...base, temperature: -1 }),
    message: /run\.json: "temperature": Too small: expected number to be >=0/,
  },
  {
    group,
    name: 'train: topP 0',
    make: train('grpo', { ...base, topP: 0 }),
    message: /run\.json: "topP": Too small: expected number to be >0/,
  },
  {
    group,
    name: 'train: LoRA rank 0',
    make: train('grpo', { ...base, lora: { r: 0 } }),
    message: /run\.json: "lora\.r": Too small: expected number to be >=1/,
  },
  {
    group,
    name: 'train: LoRA dropout 1',
    make: train('sft', { ...base, lora: { lora_dropout: 1 } }),
    message: /run\.json: "lora\.lora_dropout": Too big: expected number to be <1/,
  },
  {
    group,
    name: 'train: an unknown loss type',
    make: train('grpo', { ...base, lossType: 'ppo' }),
    message: /run\.json: "lossType": Invalid option: expected one of "grpo"/,
  },
  {
    group,
    name: 'train: an unknown task',
    make: train('grpo', { ...base, task: 'segmentation' }),
    message: /run\.json: "task": Invalid option: expected one of "detection"\|"classification"\|"rec"/,
  },
  {
    group,
    name: 'train: an unknown reward names the nearest',
    make: train('grpo', { ...base, rewards: { iuo: 1, format: 1 } }),
    message: /run\.json: Unknown reward "iuo" \(did you mean "iou"\?\)/,
  },
  {
    group,
    name: 'train: a reward weight "NaN"',
    make: train('grpo', { ...base, rewards: { iou: 'NaN', format: 1 } }),
    message: /run\.json: "rewards\.iou": .*expected number/,
  },
  {
    group,
    name: 'train: a REC reward on a detection run',
    make: train('grpo', { ...base, rewards: { rec_iou: 1, format: 1 } }),
    message:
      /run\.json: "rewards\.rec_iou": the rec_iou reward scores task "rec", not this run's task "detection"/,
  },
  {
    group,
    name: 'train: a box reward on a classification run',
    make: train('grpo', { ...base, task: 'classification', rewards: { iou: 1, format: 1 } }),
    message:
      /run\.json: "rewards\.iou": the iou reward scores task "detection" or "rec", not this run's task "classification"/,
  },
  {
    group,
    name: 'train: task rec on a dataset without expressions',
    make: train('grpo', { ...base, task: 'rec' }),
    message: /run\.json: No box of "shapes" has a referring expression/,
  },
  {
    group,
    name: 'train: a dataset that does not exist',
    make: train('sft', { ...base, dataset: 'shapez' }),
    message: /run\.json: There is no dataset named "shapez"/,
  },
  {
    group,
    name: 'train: a split that does not exist',
    make: train('grpo', { ...base, split: 'novell' }),
    message: /run\.json: Dataset "shapes" has no split named "novell"/,
  },
  {
    group,
    name: 'train: an evaluation split that does not exist (found out only after training)',
    make: train('sft', { ...base, evalSplit: 'novell' }),
    message: /run\.json: "evalSplit": Dataset "shapes" has no split named "novell"/,
  },
  {
    group,
    name: 'train: a thinkTemplate placeholder with a typo (trained on as it is)',
    make: train('sft', { ...base, thinkTemplate: 'Find every {categroy}: {objects}' }),
    message: /run\.json: "thinkTemplate": \{categroy\} is not filled in \(did you mean \{category\}\?\)/,
  },
  {
    group,
    name: 'train: resuming a run that does not exist',
    make: (ctx) => ['train', '--resume', '9', '--data', ctx.data],
    message: /--resume: there is no run 9 in .*data/,
  },
  {
    group,
    name: 'train: a category the dataset lacks',
    make: train('grpo', { ...base, categories: ['unicorn'] }),
    message: /run\.json: dataset "shapes" has no category "unicorn"/,
  },
  {
    group,
    name: 'train: a model folder that does not exist',
    make: train('grpo', { ...base, model: 'models/not-there' }),
    message: /run\.json: "model" models\/not-there is not a model folder/,
  },
  {
    group,
    name: 'train: no dataset named',
    make: train('sft', { steps: 2 }),
    message: /run\.json: "dataset": .*expected string, received undefined/,
  },
  {
    group,
    name: 'train: invalid JSON says the line',
    make: train('sft', '{\n  "dataset": "shapes"\n  "steps": 2\n}\n'),
    message: /run\.json: not valid JSON at line 3, column 3/,
  },
  {
    group,
    name: 'train: a config that is a JSON list',
    make: train('sft', '[{"dataset": "shapes", "steps": 2}]'),
    message: /run\.json: the config: .*expected object, received array/,
  },
  {
    group,
    name: 'train: an empty config file',
    make: train('grpo', ''),
    message: /run\.json: the file is empty: a run config is a JSON object/,
  },
  {
    group,
    name: 'train: a YAML config',
    make: train('grpo', 'dataset: shapes\nsteps: 2\n', 'run.yaml'),
    message: /run\.yaml: this looks like YAML, not JSON/,
  },
  {
    group,
    name: 'train: YAML in a .json file',
    make: train('sft', '# my run\ndataset: shapes\nsteps: 2\n'),
    message: /run\.json: this looks like YAML, not JSON/,
  },
  {
    group,
    name: 'train: an SFT config with GRPO settings',
    make: train('sft', { ...base, numGenerations: 4 }),
    message:
      /run\.json: unknown key "numGenerations" \("numGenerations" is a setting of GRPO: --method grpo\?\)/,
  },
  {
    group,
    name: 'doctor: an empty run config',
    make: (ctx) => {
      writeFileSync(path.join(ctx.dir, 'run.json'), '');
      return ['doctor', '--config', path.join(ctx.dir, 'run.json')];
    },
    message: /run\.json: the file is empty/,
  },
  {
    group,
    name: 'train: a config that is a folder',
    make: (ctx) => {
      mkdirSync(path.join(ctx.dir, 'run.json'));
      return ['train', '--method', 'sft', '--config', path.join(ctx.dir, 'run.json'), '--data', ctx.data];
    },
    message: /run\.json:? is a folder, not a file/,
  },
  {
    group,
    name: 'train: a config that is a named pipe (it blocked forever)',
    make: (ctx) => {
      const file = path.join(ctx.dir, 'run.json');
      const made = spawnSync('mkfifo', [file]);
      if (made.status !== 0) throw new Error(`mkfifo failed: ${String(made.stderr)}`);
      return ['train', '--method', 'grpo', '--config', file, '--data', ctx.data];
    },
    message: /run\.json is a named pipe, not a file/,
  },
  {
    group,
    name: 'train: a config file that does not exist',
    make: (ctx) => [
      'train',
      '--method',
      'sft',
      '--config',
      path.join(ctx.dir, 'none.json'),
      '--data',
      ctx.data,
    ],
    message: /none\.json: no such file/,
  },
  {
    group,
    name: 'train: an unknown method',
    make: train('ppo' as 'sft', base),
    message: /--method must be one of sft, grpo, got "ppo"/,
  },
];

const evalCases: FaultCase[] = [
  {
    group,
    name: 'eval: task rec on a dataset without expressions',
    make: evaluate('--task', 'rec'),
    message: /No box of "shapes" has a referring expression/,
  },
  {
    group,
    name: 'eval: an unknown task',
    make: evaluate('--task', 'segmentation'),
    message: /--task must be one of detection, classification, rec, got "segmentation"/,
  },
  {
    group,
    name: 'eval: a dataset that does not exist',
    make: (ctx) => ['eval', '--model', tinyVlm, '--dataset', 'shapez', '--data', ctx.data],
    message: /no dataset named "shapez"/,
  },
  {
    group,
    name: 'eval: a split that does not exist',
    make: evaluate('--split', 'novell'),
    message: /Dataset "shapes" has no split named "novell"/,
  },
  {
    group,
    name: 'eval: a category the dataset lacks',
    make: evaluate('--categories', 'unicorn'),
    message: /dataset "shapes" has no category "unicorn"/,
  },
  {
    group,
    name: 'eval: --max-new-tokens 0',
    make: evaluate('--max-new-tokens', '0'),
    message: /--max-new-tokens wants at least 1/,
  },
  {
    group,
    name: 'eval: --max-new-tokens abc',
    make: evaluate('--max-new-tokens', 'abc'),
    message: /--max-new-tokens wants a whole number, got "abc"/,
  },
  {
    group,
    name: 'eval: a run that does not exist',
    make: (ctx) => ['eval', '--run', '7', '--data', ctx.data],
    message: /--run: there is no run 7 in .*data/,
  },
];

export const configCases: FaultCase[] = [...trainCases, ...evalCases];
