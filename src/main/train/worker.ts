/**
 * The trainer process: one per run, spawned by the CLI or the engine host, so synchronous tensor
 * work never blocks them, and a crash or out-of-memory never takes the store down.
 *
 *   node out/main/trainer.js --run ID --data DIR [--resume]
 *
 * It runs the run's job (jobs.ts) and reports progress over IPC when it has a parent. SIGTERM or a
 * `{type: 'stop'}` message checkpoints and exits (paused, or cancelled when asked); a kill loses
 * only the steps since the last checkpoint (resuming rolls back what was logged after it).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../../shared/errors';
import { initEngine, keepNativeChoices } from '../engine';
import { openStore, workspaceDbPath } from '../store/db';
import { getRun, rollBackRunAfter, setRunStatus } from '../store/runs';
import { latestCheckpoint } from './checkpoint';
import { NonFiniteGrpoLoss } from './grpo/trainer';
import { jobs, type Job, type TrainerMessage, type TrainerRequest } from './jobs';
import { runDir } from './runFiles';
import { NonFiniteLossError } from './sftRun';
import { describeFailure } from './failures';

const send = (message: TrainerMessage) => {
  if (process.send) process.send(message);
  else if (message.type !== 'progress') process.stdout.write(`${JSON.stringify(message)}\n`);
};

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
  let stopAs: 'paused' | 'cancelled' = 'paused';
  const stop = () => (stopping = true);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('message', (m: TrainerRequest) => {
    if (m?.type !== 'stop') return;
    if (m.reason === 'cancel') stopAs = 'cancelled';
    stop();
  });
  process.on('disconnect', stop);
  try {
    const engine = await initEngine();
    keepNativeChoices(path.join(runDir(dataDir, runId), 'native.json'), !!values.resume);
    const root = path.join(runDir(dataDir, runId), 'checkpoints');
    const last = values.resume ? latestCheckpoint(root) : undefined;
    const fromStep = last ? Number(/step-(\d+)$/.exec(last)![1]) : 0;
    rollBackRunAfter(db, runId, fromStep);
    const job: Job = {
      send,
      db,
      runId,
      kind: run.kind,
      root,
      resume: !!values.resume,
      fromStep,
      backend: engine.backend,
      shouldStop: () => stopping,
    };
    const { step, steps, policy } = await jobs[run.kind](job, run.config);
    if (step < steps) {
      setRunStatus(db, runId, stopAs);
      send({ type: 'finished', runId, status: stopAs, error: null });
      return 0;
    }
    policy?.save(path.join(runDir(dataDir, runId), 'model'), { run: String(runId) });
    setRunStatus(db, runId, 'completed');
    send({ type: 'finished', runId, status: 'completed', error: null });
    return 0;
  } catch (error) {
    const expected =
      error instanceof UserError || error instanceof NonFiniteLossError || error instanceof NonFiniteGrpoLoss;
    const message = expected ? (error as Error).message : describeFailure(error, dataDir);
    try {
      setRunStatus(db, runId, 'failed', message);
    } catch {
      // A full or read-only disk refuses this write too: the parent is told, and records it.
    }
    send({ type: 'finished', runId, status: 'failed', error: message });
    if (!expected && !/^(the disk|cannot write the workspace)/.test(message))
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
