/**
 * `vrft scale-out export`: a GRPO run config as a self-contained TRL project. The prompts are the
 * ones vrft's own trainer would ask (the same questions, the model family's prompts), each with a
 * stable sample id; the run is created in the workspace (engine TRL, status queued) with its plan,
 * which `vrft reward-server` serves and records against.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { refuseWorkspaceFiles, stageFolder } from '../data/safeWrite';
import { newToken } from '../host/auth';
import { trainingFactsOf } from '../models';
import { taskRewards, checkRewardWeights } from '../rewards/registry';
import { transaction, type Db } from '../store/db';
import { createRun } from '../store/runs';
import type { GrpoConfig } from '../train/config';
import { createCheckedRun } from '../train/createRun';
import { loadDataset } from '../train/datasetExamples';
import type { GrpoPrompt } from '../train/grpo/trainer';
import { grpoPromptsOf } from '../train/taskData';
import { writePlan, type PlannedSample, type ScaleOutPlan } from './plan';
import pythonModule from './python/vrft_trl.py?raw';
import {
  accelerateYaml,
  launchSh,
  readme,
  requirementsTxt,
  trainPy,
  type DeepSpeed,
  type ProjectSettings,
} from './project';

export interface ExportRequest {
  config: GrpoConfig;
  /** Where relative paths in the config are resolved from (the config file's folder). */
  baseDir: string;
  /** For messages: the config file's name. */
  source: string;
  out: string;
  dataDir: string;
  gpus: number;
  deepspeed: DeepSpeed;
  vllm: boolean;
  /** Completions each GPU generates per step; all of a step's by default. */
  perDeviceBatch?: number;
  /** Where the reward server will listen (reward.json's url). */
  host: string;
  port: number;
  name?: string;
}

export interface ExportResult {
  runId: number;
  out: string;
  url: string;
  samples: number;
  /** The two commands: start the reward server, launch training. */
  commands: { server: string; launch: string };
  /** The project's files (the images aside). */
  files: string[];
  /** What the user should know about how the export read the config. */
  notes: string[];
}

function checkOut(out: string): void {
  if (existsSync(out) && readdirSync(out).length)
    throw new UserError(
      'invalid_input',
      `${out} is not empty: name a new or empty folder (the export overwrites nothing)`,
    );
}

/** Completions per GPU and accumulation steps: promptsPerStep × G split evenly over the GPUs. */
function batchShape(config: GrpoConfig, gpus: number, perDevice?: number) {
  const total = config.promptsPerStep * config.numGenerations;
  const per = perDevice ?? total / gpus;
  if (!Number.isInteger(per) || per < 1 || total % (per * gpus) !== 0)
    throw new UserError(
      'invalid_input',
      `${total} completions per step (promptsPerStep ${config.promptsPerStep} × numGenerations ` +
        `${config.numGenerations}) do not split into ${gpus} GPU(s) × ${perDevice ?? 'an equal share'}` +
        ': choose promptsPerStep and numGenerations (or, from the command line, --per-device-batch) so they split evenly',
    );
  return { perDeviceBatch: per, gradientAccumulation: total / (per * gpus) };
}

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

export async function exportScaleOut(db: Db, request: ExportRequest): Promise<ExportResult> {
  const { config } = request;
  const out = path.resolve(request.out);
  refuseWorkspaceFiles(out, db.name);
  checkOut(out);
  const local = path.resolve(request.baseDir, config.model);
  const model = existsSync(local) ? local : config.model;
  const facts = await trainingFactsOf(model);
  const rewards = config.rewards ?? taskRewards[config.task];
  checkRewardWeights(rewards);
  const shape = batchShape(config, request.gpus, request.perDeviceBatch);

  // The same questions vrft's trainer asks, in the model family's own prompts.
  const loaded = loadDataset(db, config.dataset, config.split);
  const prompting = { prompts: facts.prompts, frame: facts.frame, inputSize: facts.inputSize };
  let prompts: GrpoPrompt[];
  try {
    prompts = grpoPromptsOf(loaded, config, prompting);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(error.code, `${request.source}: ${error.message}`);
    throw error;
  }
  const imagePaths = new Map(loaded.images.map((img) => [img.imageId, img.path]));

  const runConfig = {
    ...config,
    model,
    scaleOut: {
      engine: 'trl',
      project: out,
      gpus: request.gpus,
      deepspeed: request.deepspeed,
      vllm: request.vllm,
    },
  };
  const token = newToken();
  const url = `http://${request.host.includes(':') ? `[${request.host}]` : request.host}:${request.port}`;
  // Written beside `out` and put in place whole: a failure or a kill leaves no half project.
  const staged = stageFolder(out, checkOut);
  const files: string[] = [];
  const write = (name: string, text: string, mode = 0o644) => {
    const file = path.join(staged.dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { mode });
    files.push(name);
  };

  try {
    // The dataset: one row per prompt, its image copied beside it.
    const copied = new Set<number>();
    const rows = prompts.map((p) => {
      const source = imagePaths.get(p.imageId!)!;
      const image = `images/${p.imageId}${path.extname(source).toLowerCase() || '.png'}`;
      if (!copied.has(p.imageId!)) {
        mkdirSync(path.join(staged.dir, 'data', 'images'), { recursive: true });
        copyFileSync(source, path.join(staged.dir, 'data', image));
        copied.add(p.imageId!);
      }
      return JSON.stringify({
        sample_id: p.key,
        image,
        prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: p.prompt }] }],
      });
    });
    write('data/train.jsonl', `${rows.join('\n')}\n`);

    // The run exists once its project is in place: the folder is put there as the last step of the
    // transaction that creates it (a kill between the two leaves a project whose run is not there).
    return transaction(db, () => {
      // A local folder is checked and remembered as every run's model is; a hub id is TRL's to fetch.
      const runId = existsSync(local)
        ? createCheckedRun(
            db,
            { kind: 'grpo', name: request.name, config: runConfig, baseDir: request.baseDir },
            request.source,
          )
        : createRun(db, {
            kind: 'grpo',
            name: request.name,
            datasetId: loaded.dataset.id,
            splitId: loaded.splitId,
            config: runConfig,
            seed: config.seed,
          });
      const samples: PlannedSample[] = prompts.map((p) => ({
        sampleId: p.key,
        imageId: p.imageId,
        prompt: p.prompt,
        solution: p.solution,
        context: p.context,
        ...(p.asked !== undefined && { asked: p.asked }),
      }));
      const plan: ScaleOutPlan = {
        version: 1,
        runId,
        token,
        host: request.host,
        port: request.port,
        rewards,
        numGenerations: config.numGenerations,
        scaleRewards: config.scaleRewards,
        maxCompletionLength: config.maxCompletionLength,
        generationBatch: config.promptsPerStep * config.numGenerations,
        gpus: request.gpus,
        samples,
      };
      writePlan(request.dataDir, plan);

      const serverCommand = `vrft reward-server --run ${runId} --data ${quote(request.dataDir)} --port ${request.port}`;
      const settings: ProjectSettings = {
        runId,
        runName: request.name?.trim() ?? '',
        model,
        modelClass: facts.modelClass,
        config,
        rewards,
        minPixels: facts.minPixels,
        maxPixels: facts.maxPixels,
        ...(config.lora && { targetModules: facts.peftTargetModules(config.lora) }),
        gpus: request.gpus,
        ...shape,
        deepspeed: request.deepspeed,
        vllm: request.vllm,
        samples: prompts.length,
        serverCommand,
        port: request.port,
      };
      write('train.py', trainPy(settings));
      write('vrft_trl.py', pythonModule);
      write('accelerate.yaml', accelerateYaml(request.gpus, request.deepspeed));
      write('launch.sh', launchSh(), 0o755);
      write('requirements.txt', requirementsTxt(settings));
      write('README.md', readme(settings));
      write(
        'reward.json',
        `${JSON.stringify({ url, token, rewards: Object.keys(rewards), max_completion_length: config.maxCompletionLength }, null, 2)}\n`,
        0o600,
      );
      write(
        'vrft-run.json',
        `${JSON.stringify({ runId, name: settings.runName, config: runConfig }, null, 2)}\n`,
      );
      staged.commit();
      return {
        runId,
        out,
        url,
        samples: prompts.length,
        commands: { server: serverCommand, launch: `cd ${quote(out)} && ./launch.sh` },
        files,
        notes: existsSync(local)
          ? []
          : [
              `"${config.model}" is not a folder here: train.py loads it on the training machine (a hub id, or a ` +
                `path there); its image sizes are Qwen's defaults (${facts.minPixels}–${facts.maxPixels} pixels)`,
            ],
      };
    });
  } catch (error) {
    // Nothing half-made: the folder's files go (the transaction took the run with it).
    staged.discard();
    throw error;
  }
}
