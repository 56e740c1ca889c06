/** `vrft scale-out export`: a GRPO run as a TRL project for accelerate / DeepSpeed on 1–N GPUs. */
import { UsageError, type Command } from './command';

export const scaleOutCommand: Command = {
  summary: 'export a GRPO run as a TRL project for 1–N GPUs (accelerate / DeepSpeed)',
  usage:
    'vrft scale-out export --config FILE --out DIR [--gpus N] [--deepspeed none|zero2|zero3] [--vllm] [--data WS] [--json]',
  flags: {
    config: { type: 'string' },
    out: { type: 'string' },
    gpus: { type: 'string' },
    deepspeed: { type: 'string' },
    vllm: { type: 'boolean' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 1,
  run: () => Promise.reject(new UsageError('scale-out is not built yet')),
};
