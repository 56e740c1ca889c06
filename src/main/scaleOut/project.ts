/**
 * The files of an exported TRL project: train.py with every GRPO setting mapped from vrft's names
 * to TRL's (TRL's defaults differ from the papers': loss_type dapo, beta 0, lr 1e-6, 512 completion
 * tokens — so nothing is left to them), the accelerate config for N GPUs (TRL's own recipes: plain
 * multi-GPU, DeepSpeed ZeRO-2 or ZeRO-3), launch.sh, pinned requirements and a README with the
 * exact commands. The dataset and images are written by the export itself (export.ts).
 */
import { deepSpeedModes } from '../../shared/scaleOutContract';
import type { GrpoConfig } from '../train/config';

export { deepSpeedModes };
export type DeepSpeed = (typeof deepSpeedModes)[number];

/** The versions the exported project was tested with (TRL 1.13 on transformers 5.18). */
export const pinned = {
  trl: '1.13.0',
  transformers: '5.18.0',
  peft: '0.21.0',
  accelerate: '1.15.0',
  datasets: '5.0.1',
  torch: '2.13.0',
  torchvision: '0.28.0',
  pillow: '12.3.0',
  deepspeed: '0.18.6',
  vllm: '0.28.0',
} as const;

export interface ProjectSettings {
  runId: number;
  runName: string;
  /** A local folder (absolute) or a hub id. */
  model: string;
  modelClass: string;
  config: GrpoConfig;
  rewards: Record<string, number>;
  minPixels: number;
  maxPixels: number;
  /** PEFT's target_modules, when the run trains LoRA adapters. */
  targetModules?: string | string[];
  gpus: number;
  perDeviceBatch: number;
  gradientAccumulation: number;
  deepspeed: DeepSpeed;
  vllm: boolean;
  samples: number;
  serverCommand: string;
  port: number;
}

/** A value as a Python literal (JSON's strings, numbers and lists are Python's too). */
export function py(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${value} has no Python literal here`);
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(py).join(', ')}]`;
  throw new Error(`no Python literal for ${typeof value}`);
}

const schedulers = { linear: 'linear', cosine: 'cosine', constant: 'constant_with_warmup' } as const;

export function trainPy(s: ProjectSettings): string {
  const c = s.config;
  const names = Object.keys(s.rewards);
  const arg = (name: string, value: unknown, note = '') =>
    `    ${name}=${py(value)},${note ? `  # ${note}` : ''}`;
  const lora = c.lora
    ? [
        'peft_config = LoraConfig(',
        `    r=${py(c.lora.rank)},`,
        `    lora_alpha=${py(c.lora.alpha)},`,
        `    lora_dropout=${py(c.lora.dropout)},`,
        `    target_modules=${py(s.targetModules)},`,
        '    task_type="CAUSAL_LM",',
        ')',
      ].join('\n')
    : 'peft_config = None  # vrft config: "lora": null — every weight trains';
  return `"""vrft run ${s.runId}${s.runName ? ` (${s.runName})` : ''}: GRPO with TRL, exported by \`vrft scale-out export\`.

Every setting is the vrft run's, under TRL's name (TRL's own defaults differ from the papers':
loss_type dapo, beta 0, learning rate 1e-6, 512 completion tokens). Rewards come from vrft itself
through \`vrft reward-server\`, which also records every rollout and TRL's logs in the vrft run.
Launch with ./launch.sh (see README.md); run as \`python train.py\` for one process.
"""
import os
import shutil

import torch
from peft import LoraConfig
from trl import GRPOConfig, GRPOTrainer

import vrft_trl

HERE = os.path.dirname(os.path.abspath(__file__))
# The model: the folder vrft trained from, or a hub id. On a cluster, point VRFT_MODEL at its copy.
MODEL = os.environ.get("VRFT_MODEL", ${py(s.model)})
OUTPUT = os.environ.get("VRFT_OUTPUT_DIR", os.path.join(HERE, "output"))
ON_GPU = torch.cuda.is_available()

rewards = vrft_trl.RewardClient.from_project(HERE)

args = GRPOConfig(
    output_dir=OUTPUT,
${arg('max_steps', c.steps * c.numIterations, `steps ${c.steps} × numIterations ${c.numIterations} (TRL counts each of the μ updates)`)}
${arg('num_generations', c.numGenerations, 'numGenerations (G)')}
${arg('per_device_train_batch_size', s.perDeviceBatch, `promptsPerStep ${c.promptsPerStep} × G ${c.numGenerations} completions per step over ${s.gpus} GPU(s)`)}
${arg('gradient_accumulation_steps', s.gradientAccumulation)}
${arg('steps_per_generation', s.gradientAccumulation, 'one generation round per optimiser step, as vrft')}
${arg('num_iterations', c.numIterations, 'numIterations (μ)')}
${arg('beta', c.beta)}
${arg('epsilon', c.epsilon)}
${arg('epsilon_high', c.epsilonHigh ?? c.epsilon, 'epsilonHigh (ε when absent)')}
${arg('loss_type', c.lossType)}
${arg('scale_rewards', c.scaleRewards)}
${arg('mask_truncated_completions', c.maskTruncated)}
${arg('temperature', c.temperature)}
${arg('top_p', c.topP)}
${arg('top_k', 0, 'vrft samples without top-k')}
${arg('max_completion_length', c.maxCompletionLength)}
${arg('learning_rate', c.learningRate)}
${arg('lr_scheduler_type', schedulers[c.schedule], `schedule ${c.schedule}`)}
${arg('warmup_steps', c.warmupSteps * c.numIterations)}
${arg('weight_decay', c.weightDecay)}
${arg('max_grad_norm', c.maxGradNorm)}
${arg('seed', c.seed)}
${arg(
  'reward_weights',
  names.map((n) => s.rewards[n]),
  names.join(', '),
)}
${arg('gradient_checkpointing', c.gradientCheckpointing)}
${arg('save_strategy', 'steps')}
${arg('save_steps', c.checkpointEvery * c.numIterations, 'checkpointEvery')}
${arg('logging_steps', 1)}
${arg('log_completions', true)}
${arg('num_completions_to_print', 0)}
${arg('report_to', 'none')}
${arg('remove_unused_columns', false, 'sample_id reaches the reward functions')}
${arg('use_vllm', s.vllm)}${s.vllm ? `\n${arg('vllm_mode', 'colocate', 'vLLM shares each GPU with training')}` : ''}
    model_init_kwargs={"dtype": torch.bfloat16 if ON_GPU else torch.float32},
    bf16=ON_GPU,
    use_cpu=not ON_GPU,
)

${lora}

trainer = GRPOTrainer(
    model=MODEL,
    args=args,
    reward_funcs=rewards.reward_functions(),
    train_dataset=vrft_trl.load_dataset(HERE),
    processing_class=vrft_trl.load_processor(MODEL, min_pixels=${py(s.minPixels)}, max_pixels=${py(s.maxPixels)}),
    peft_config=peft_config,
    callbacks=[vrft_trl.VrftCallback(rewards)],
)
${
  c.freezeVisionTower && !c.lora
    ? `# freezeVisionTower: the vision tower keeps its weights (with LoRA, only the adapters train anyway).
for name, parameter in trainer.model.named_parameters():
    if ".visual." in name or name.startswith("visual."):
        parameter.requires_grad_(False)
`
    : ''
}
if trainer.accelerator.is_main_process:
    os.makedirs(OUTPUT, exist_ok=True)
    shutil.copy(os.path.join(HERE, "vrft-run.json"), os.path.join(OUTPUT, "vrft-run.json"))
trainer.train()
trainer.save_model(OUTPUT)
trainer.save_state()
`;
}

/** accelerate's config for N GPUs on one machine, as TRL's example recipes write it. */
export function accelerateYaml(gpus: number, deepspeed: DeepSpeed): string {
  const lines = ['compute_environment: LOCAL_MACHINE', 'debug: false'];
  if (deepspeed !== 'none') {
    lines.push(
      'deepspeed_config:',
      '  deepspeed_multinode_launcher: standard',
      '  offload_optimizer_device: none',
      '  offload_param_device: none',
      ...(deepspeed === 'zero3' ? ['  zero3_init_flag: true', '  zero3_save_16bit_model: true'] : []),
      `  zero_stage: ${deepspeed === 'zero3' ? 3 : 2}`,
      'distributed_type: DEEPSPEED',
    );
  } else {
    lines.push(`distributed_type: ${gpus > 1 ? 'MULTI_GPU' : 'NO'}`);
  }
  lines.push(
    "downcast_bf16: 'no'",
    `gpu_ids: all`,
    'machine_rank: 0',
    'main_training_function: main',
    'mixed_precision: bf16',
    'num_machines: 1',
    `num_processes: ${gpus}`,
    'rdzv_backend: static',
    'same_network: true',
    'tpu_env: []',
    'tpu_use_cluster: false',
    'tpu_use_sudo: false',
    'use_cpu: false',
  );
  return `${lines.join('\n')}\n`;
}

export function launchSh(): string {
  return `#!/usr/bin/env bash
# Trains this vrft run with TRL on this machine's GPUs (accelerate.yaml says how many).
# Start \`vrft reward-server\` first (README.md); extra arguments go to accelerate.
set -euo pipefail
cd "$(dirname "$0")"
exec accelerate launch --config_file accelerate.yaml "$@" train.py
`;
}

export function requirementsTxt(s: Pick<ProjectSettings, 'deepspeed' | 'vllm'>): string {
  const p = pinned;
  return [
    '# What train.py was tested with (TRL 1.13). torch / torchvision: install the build for your CUDA',
    '# (https://pytorch.org/get-started/locally/) before the rest if pip picks a CPU one.',
    `torch==${p.torch}`,
    `torchvision==${p.torchvision}`,
    `trl==${p.trl}`,
    `transformers==${p.transformers}`,
    `peft==${p.peft}`,
    `accelerate==${p.accelerate}`,
    `datasets==${p.datasets}`,
    `pillow==${p.pillow}`,
    ...(s.deepspeed !== 'none' ? [`deepspeed==${p.deepspeed}`] : []),
    ...(s.vllm ? [`vllm==${p.vllm}`] : []),
    '',
  ].join('\n');
}

export function readme(s: ProjectSettings): string {
  const c = s.config;
  return `# vrft run ${s.runId}${s.runName ? ` — ${s.runName}` : ''}: GRPO on ${s.gpus} GPU(s) with TRL

Exported by \`vrft scale-out export\`: ${s.samples} prompts of dataset "${c.dataset}"${c.split ? ` (split "${c.split}")` : ''},
model \`${s.model}\`, ${c.steps} steps of ${c.promptsPerStep} prompts × ${c.numGenerations} completions,
${c.lora ? `LoRA r ${c.lora.rank}` : 'full fine-tuning'}${s.deepspeed !== 'none' ? `, DeepSpeed ${s.deepspeed.toUpperCase()}` : ''}${s.vllm ? ', vLLM generation' : ''}.

## 1. Start vrft's reward server (on the machine with the vrft workspace)

    ${s.serverCommand}

It scores every completion with vrft's rewards, records each rollout in run ${s.runId}, and keeps
TRL's logs as the run's curves: open the run in vrft to watch it train.

Training on a cluster? Open a tunnel from the cluster's node back to the server first, e.g.

    ssh -N -R ${s.port}:127.0.0.1:${s.port} you@cluster-node

(run on the vrft machine: the cluster then reaches the server at 127.0.0.1:${s.port}), or set \`VRFT_REWARD_URL\` to where the server can be reached.

## 2. Install (once, on the training machine)

    python -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt

## 3. Launch

    ./launch.sh

which runs \`accelerate launch --config_file accelerate.yaml train.py\` on ${s.gpus} GPU(s). Copy the
model there and set \`VRFT_MODEL=/path/to/model\` if its folder is elsewhere than in train.py.
TRL writes checkpoints and the final ${c.lora ? 'adapter' : 'model'} to \`output/\`; after training,
\`vrft import-run output\` brings the checkpoints into the workspace (the rollouts and curves are
already there).

## Files

- \`train.py\` — GRPOConfig with every setting of the vrft run under TRL's name
- \`vrft_trl.py\` — reward functions (one per reward: ${Object.keys(s.rewards).join(', ')}) calling the server, the
  logging callback, the processor (padding left: TRL 1.13 needs it with mixed image sizes)
- \`data/train.jsonl\`, \`data/images/\` — the prompts, each with a stable \`sample_id\`
- \`accelerate.yaml\` — ${s.gpus} process(es)${s.deepspeed !== 'none' ? `, DeepSpeed ${s.deepspeed}` : ''}
- \`reward.json\` — the server's address and this run's token (keep it private)
- \`vrft-run.json\` — the vrft run and its config (copied into \`output/\`)
`;
}
