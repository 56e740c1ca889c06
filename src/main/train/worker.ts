/**
 * The trainer process: one per run, spawned by the CLI or the engine host, so synchronous tensor
 * work never blocks them, and a crash or out-of-memory never takes the store down.
 *
 *   node out/main/trainer.js --run ID --data DIR [--resume]
 *
 * It reads the run's config from the workspace, trains, writes metrics in batched transactions
 * and a row per checkpoint, and reports progress over IPC when it has a parent. SIGTERM or a
 * `{type: 'stop'}` message checkpoints and exits; a kill loses only the steps since the last
 * checkpoint (resuming rolls back what was logged after it).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../../shared/errors';
import { initEngine } from '../engine';
import { TinyVlmPolicy } from '../models/tiny-vlm/policy';
import { openStore, workspaceDbPath } from '../store/db';
import {
  addCheckpoint,
  getRun,
  insertMetrics,
  rollBackRunAfter,
  setRunStatus,
  type MetricPoint,
} from '../store/runs';
import { latestCheckpoint } from './checkpoint';
import { parseConfig, sftConfigSchema } from './config';
import { detectionExamples, loadDataset } from './datasetExamples';
import { listSource, NonFiniteLossError, runSft } from './sftRun';

export type TrainerMessage =
  | { type: 'started'; runId: number; backend: string; totalSteps: number; fromStep: number }
  | {
      type: 'progress';
      runId: number;
      step: number;
      totalSteps: number;
      metrics: Record<string, number>;
      etaSeconds: number | null;
    }
  | { type: 'finished'; runId: number; status: 'completed' | 'failed' | 'cancelled'; error: string | null };

const send = (message: TrainerMessage) => {
  if (process.send) process.send(message);
  else if (message.type !== 'progress') process.stdout.write(`${JSON.stringify(message)}\n`);
};

function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/out of memory|\bOOM\b|Cannot allocate|allocation failed|Array buffer allocation/i.test(message)) {
    return `out of memory: ${message.split('\n')[0]} — lower batchSize, or use LoRA, and resume.`;
  }
  return message;
}

export function runDir(dataDir: string, runId: number): string {
  return path.join(dataDir, 'runs', String(runId));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { run: { type: 'string' }, data: { type: 'string' }, resume: { type: 'boolean' } },
  });
  const runId = Number(values.run);
  const dataDir = path.resolve(values.data ?? '.');
  const db = openStore(workspaceDbPath(dataDir));
  const run = getRun(db, runId);
  if (!run) throw new Error(`no run ${runId} in ${dataDir}`);
  let stopping = false;
  const stop = () => (stopping = true);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('message', (m: { type?: string }) => m?.type === 'stop' && stop());
  process.on('disconnect', stop);
  try {
    const config = parseConfig(sftConfigSchema, run.config, `run ${runId}`);
    const engine = await initEngine();
    const loaded = loadDataset(db, config.dataset, config.split);
    const categories = config.categories ?? loaded.categories.map((c) => c.name);
    const examples = detectionExamples(loaded.images, categories, config.thinkTemplate);
    const policy = TinyVlmPolicy.load(path.resolve(config.model), { lora: config.lora, seed: config.seed });
    const root = path.join(runDir(dataDir, runId), 'checkpoints');
    const last = values.resume ? latestCheckpoint(root) : undefined;
    const fromStep = last ? Number(/step-(\d+)$/.exec(last)![1]) : 0;
    rollBackRunAfter(db, runId, fromStep);
    setRunStatus(db, runId, 'running');
    send({ type: 'started', runId, backend: engine.backend, totalSteps: config.steps, fromStep });
    let pending: MetricPoint[] = [];
    const flush = () => {
      insertMetrics(db, runId, pending);
      pending = [];
    };
    const startedAt = Date.now();
    const { step } = runSft(
      policy,
      listSource(examples, config.seed),
      {
        steps: config.steps,
        batchSize: config.batchSize,
        lr: config.learningRate,
        warmupSteps: config.warmupSteps,
        schedule: config.schedule,
        weightDecay: config.weightDecay,
        maxGradNorm: config.maxGradNorm,
        seed: config.seed,
        trainThink: config.trainThink,
        checkpointEvery: config.checkpointEvery,
      },
      {
        checkpointRoot: root,
        resume: values.resume,
        shouldStop: () => stopping,
        onStep(s, m) {
          for (const [key, value] of Object.entries(m)) pending.push({ step: s, key, value });
          if (pending.length >= 40) flush();
          const done = s - fromStep;
          const eta = done > 0 ? (((Date.now() - startedAt) / 1000) * (config.steps - s)) / done : null;
          send({
            type: 'progress',
            runId,
            step: s,
            totalSteps: config.steps,
            metrics: { ...m },
            etaSeconds: eta,
          });
        },
        onCheckpoint(s, dir) {
          flush();
          addCheckpoint(db, { runId, step: s, path: dir });
        },
      },
    );
    flush();
    if (step < config.steps) {
      setRunStatus(db, runId, 'cancelled');
      send({ type: 'finished', runId, status: 'cancelled', error: null });
      return 0;
    }
    policy.save(path.join(runDir(dataDir, runId), 'model'), { run: String(runId) });
    setRunStatus(db, runId, 'completed');
    send({ type: 'finished', runId, status: 'completed', error: null });
    return 0;
  } catch (error) {
    const message =
      error instanceof UserError || error instanceof NonFiniteLossError
        ? error.message
        : describeFailure(error);
    setRunStatus(db, runId, 'failed', message);
    send({ type: 'finished', runId, status: 'failed', error: message });
    if (!(error instanceof UserError) && !(error instanceof NonFiniteLossError))
      console.error(error instanceof Error ? error.stack : error);
    return 1;
  } finally {
    db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
