/**
 * The reward server's recorder, on its own thread with its own connection to the workspace: it
 * scores each batch again (the server has already answered TRL), gathers the rounds, computes the
 * advantages and metrics, and writes them in order, one transaction each. A round of 64 rollouts
 * costs ~10 ms of SQLite (the trace search's trigram index is most of it); here, the server's
 * thread never waits for it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore, transaction } from '../store/db';
import { insertRollouts } from '../store/rollouts';
import { addCheckpoint, addRunWarning, getRun, insertMetrics, setRunStatus } from '../store/runs';
import type { ScaleOutPlan } from './plan';
import { RunRecorder, type StoreOp } from './recorder';
import type { RecordReply, RecordRequest } from './server';

const port = parentPort;
if (!port) throw new Error('recordWorker.js runs as a worker_thread of the reward server');
const { dbPath, plan } = workerData as { dbPath: string; plan: ScaleOutPlan };
const db = openStore(dbPath);
const runId = plan.runId;

function apply(op: StoreOp): void {
  transaction(db, () => {
    if (op.rollouts) insertRollouts(db, runId, op.rollouts);
    if (op.metrics) insertMetrics(db, runId, op.metrics);
    for (const w of op.warnings ?? []) addRunWarning(db, runId, w);
    if (op.checkpoint) addCheckpoint(db, { runId, ...op.checkpoint });
    if (op.status) setRunStatus(db, runId, op.status);
  });
}

const rounds: RecordReply['rounds'] = [];
const recorder = new RunRecorder(plan, getRun(db, runId)?.status === 'running', apply, (r) => rounds.push(r));

port.on('message', (request: RecordRequest) => {
  if (request.type === 'close') {
    db.close();
    port.close();
    return;
  }
  const reply: RecordReply = { id: request.id, rounds: [] };
  try {
    if (request.type === 'score') recorder.score(request.body);
    else if (request.type === 'log') recorder.log(request.body);
    else recorder.event(request.body);
  } catch (error) {
    reply.error = (error as Error).message;
  }
  reply.rounds = rounds.splice(0);
  port.postMessage(reply);
});
