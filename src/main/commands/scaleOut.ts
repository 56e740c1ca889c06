/**
 * `vrft scale-out export --config FILE --out DIR`: a GRPO run as a self-contained TRL project for
 * accelerate / DeepSpeed on 1–N GPUs; the run is created in the workspace and fills in as
 * `vrft reward-server` records it.
 */
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { defaultDataDir } from '../host/paths';
import { exportScaleOut } from '../scaleOut/export';
import { defaultRewardPort } from '../scaleOut/plan';
import { deepSpeedModes, type DeepSpeed } from '../scaleOut/project';
import { ConfigError, grpoConfigSchema, parseConfig } from '../train/config';
import {
  inWorkspace,
  oneOf,
  requiredString,
  UsageError,
  wholeNumber,
  type Command,
  type Values,
} from './command';
import { fileInTheWay } from './exportModel';
import { readRunConfigJson } from './train';

async function scaleOut(values: Values, positionals: string[]): Promise<number> {
  if (positionals[0] !== 'export')
    throw new UsageError(`scale-out has one action, export (usage: ${scaleOutCommand.usage})`);
  const file = requiredString(values, 'config');
  const out = requiredString(values, 'out');
  const inTheWay = fileInTheWay(out);
  if (inTheWay)
    throw new UsageError(
      `--out ${out}: ${inTheWay} is a file${inTheWay === path.resolve(out) ? '' : ', not a folder'}: name a new or empty folder`,
    );
  const gpus = wholeNumber(values, 'gpus', 1);
  if (gpus < 1) throw new UsageError('--gpus wants at least 1');
  const deepspeed = oneOf<DeepSpeed>(values, 'deepspeed', deepSpeedModes, 'none');
  const port = wholeNumber(values, 'port', defaultRewardPort);
  if (port < 1 || port > 65535) throw new UsageError('--port wants a port number, 1–65535');
  const perDevice =
    values['per-device-batch'] === undefined ? undefined : wholeNumber(values, 'per-device-batch');
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  let config;
  try {
    config = parseConfig(grpoConfigSchema, readRunConfigJson(file), file);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const result = await inWorkspace(dataDir, (db) =>
    exportScaleOut(db, {
      config,
      baseDir: path.dirname(path.resolve(file)),
      source: file,
      out,
      dataDir,
      gpus,
      deepspeed,
      vllm: values.vllm === true,
      perDeviceBatch: perDevice,
      host: typeof values.host === 'string' ? values.host : '127.0.0.1',
      port,
      name: typeof values.name === 'string' ? values.name : undefined,
    }),
  ).catch((error: unknown) => {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  });
  for (const note of result.notes) process.stderr.write(`vrft: ${note}\n`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  process.stdout.write(
    [
      `Exported run ${result.runId} (${result.samples} prompts) to ${result.out}`,
      '',
      'Start the reward server (it records the run in this workspace):',
      `  ${result.commands.server}`,
      'Then launch training (see README.md there for a cluster and its SSH tunnel):',
      `  ${result.commands.launch}`,
      '',
    ].join('\n'),
  );
  return 0;
}

export const scaleOutCommand: Command = {
  summary: 'export a GRPO run as a TRL project for 1–N GPUs (accelerate / DeepSpeed)',
  usage:
    'vrft scale-out export --config FILE --out DIR [--gpus N] [--deepspeed none|zero2|zero3] [--vllm] ' +
    '[--per-device-batch B] [--port N] [--host H] [--name NAME] [--data WS] [--json]',
  flags: {
    config: { type: 'string' },
    out: { type: 'string' },
    gpus: { type: 'string' },
    deepspeed: { type: 'string' },
    vllm: { type: 'boolean' },
    'per-device-batch': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    name: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 1,
  run: scaleOut,
};
