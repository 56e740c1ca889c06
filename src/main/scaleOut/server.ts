/**
 * `vrft reward-server`'s HTTP side: vrft's rewards for a TRL run, behind the run's token.
 *
 *   POST /v1/score  {step, process, processes, items: [{sample_id, completion, tokens, truncated}]}
 *                   → {components: {name: [..]}, total: [..]}  (and the rollouts are recorded)
 *   POST /v1/log    {step, logs: {...}}            one of TRL's log entries → the run's metrics
 *   POST /v1/event  {event: train_begin | checkpoint | train_end, step, path?}
 *   GET  /v1/health → {run, rewards, rollouts, recording}
 *
 * Every request carries `Authorization: Bearer <token>`; a bad body is a 400 saying what is wrong.
 * This thread checks and scores; the record worker (recordWorker.ts) records, in order.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { UserError } from '../../shared/errors';
import { sameToken } from '../host/auth';
import type { Db } from '../store/db';
import { getRun } from '../store/runs';
import { builtScript } from '../train/runFiles';
import type { ScaleOutPlan } from './plan';
import {
  BatchScorer,
  checkEvent,
  checkLogEntry,
  checkScoreRequest,
  type LogEntry,
  type RoundReport,
  type ScoreRequest,
  type TrainingEvent,
} from './recorder';

/** A batch of 64 completions is ~100 KB; a whole generation round of long ones stays far below this. */
const maxBody = 64 * 1024 * 1024;

export type RecordRequest =
  | { id: number; type: 'score'; body: ScoreRequest }
  | { id: number; type: 'log'; body: LogEntry }
  | { id: number; type: 'event'; body: TrainingEvent }
  | { id: number; type: 'close' };

export interface RecordReply {
  id: number;
  error?: string;
  rounds: RoundReport[];
}

type Recordable = Exclude<RecordRequest, { type: 'close' }>;

/** The record worker, seen from the server: requests in order, each answered once recorded. */
class Recording {
  private readonly worker: Worker;
  private next = 1;
  private readonly waiting = new Map<number, () => void>();
  /** The first write that failed: the server still scores, and says so. */
  failure: string | null = null;
  rollouts = 0;

  constructor(
    dbPath: string,
    plan: ScaleOutPlan,
    script: string,
    private readonly options: Pick<ServeOptions, 'onRound' | 'onRecordError'>,
  ) {
    this.worker = new Worker(script, { workerData: { dbPath, plan } });
    this.worker.on('message', (reply: RecordReply) => {
      if (reply.error) this.fail(`recording failed: ${reply.error}`);
      for (const round of reply.rounds) {
        this.rollouts += round.count;
        this.options.onRound?.(round);
      }
      this.waiting.get(reply.id)?.();
      this.waiting.delete(reply.id);
    });
    this.worker.on('error', (error) => this.fail(`the recorder stopped: ${error.message}`));
    this.worker.on('exit', () => {
      for (const done of this.waiting.values()) done();
      this.waiting.clear();
    });
  }

  private fail(message: string): void {
    this.failure ??= message;
    this.options.onRecordError?.(message);
  }

  send(request: Omit<Recordable, 'id'>): void {
    const id = this.next++;
    this.waiting.set(id, () => {});
    this.worker.postMessage({ ...request, id });
  }

  /** Resolves once everything sent so far is recorded (or has failed). */
  flushed(): Promise<void> {
    const last = Math.max(0, ...this.waiting.keys());
    const previous = this.waiting.get(last);
    if (!previous) return Promise.resolve();
    return new Promise((resolve) =>
      this.waiting.set(last, () => {
        previous();
        resolve();
      }),
    );
  }

  async close(): Promise<void> {
    await this.flushed();
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ id: 0, type: 'close' });
    await exited;
  }
}

export interface RewardServer {
  url: string;
  port: number;
  /** Rollouts recorded this session. */
  rollouts(): number;
  /** Resolves once everything received so far is in the workspace. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

export interface ServeOptions {
  host: string;
  port: number;
  onRound?: (round: RoundReport) => void;
  /** A write to the workspace failed: the server still scores, and says so (here, /v1/health). */
  onRecordError?: (message: string) => void;
  /** The built record worker (out/main/recordWorker.js); found next to this bundle by default. */
  recordWorker?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        reject(new HttpError(413, `the body is over ${maxBody / 2 ** 20} MiB: post smaller batches`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new HttpError(400, `the body is not JSON: ${(error as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function startRewardServer(db: Db, plan: ScaleOutPlan, options: ServeOptions): Promise<RewardServer> {
  if (!getRun(db, plan.runId))
    return Promise.reject(new UserError('not_found', `There is no run ${plan.runId} in this workspace.`));
  const scorer = new BatchScorer(plan);
  const recording = new Recording(
    db.name,
    plan,
    options.recordWorker ?? builtScript('recordWorker.js', import.meta.url),
    options,
  );
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!sameToken(plan.token, bearer))
      throw new HttpError(401, `run ${plan.runId} needs its token (reward.json of the exported project)`);
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
    switch (route) {
      case 'GET /v1/health':
        return send(res, 200, {
          run: plan.runId,
          rewards: Object.keys(plan.rewards),
          rollouts: recording.rollouts,
          recording: recording.failure ?? 'ok',
        });
      case 'POST /v1/score': {
        const request = checkScoreRequest(await readBody(req));
        const reply = scorer.reply(request.items);
        recording.send({ type: 'score', body: request });
        return send(res, 200, reply);
      }
      case 'POST /v1/log':
        recording.send({ type: 'log', body: checkLogEntry(await readBody(req)) });
        return send(res, 200, { ok: true });
      case 'POST /v1/event':
        recording.send({ type: 'event', body: checkEvent(await readBody(req)) });
        // Answered once everything before it is in the workspace: training's end means all of it.
        await recording.flushed();
        return send(res, 200, { ok: true });
      default:
        throw new HttpError(
          404,
          `no ${route}: the server answers /v1/score, /v1/log, /v1/event and /v1/health`,
        );
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, error.status, { error: error.message });
      if (error instanceof UserError) return send(res, 400, { error: error.message });
      send(res, 500, { error: `vrft reward server: ${(error as Error).message}` });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      void recording.close();
      reject(
        error.code === 'EADDRINUSE'
          ? new UserError(
              'invalid_input',
              `port ${options.port} on ${options.host} is taken: choose another with --port`,
            )
          : error,
      );
    });
    server.listen(options.port, options.host, () => {
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        port,
        rollouts: () => recording.rollouts,
        flushed: () => recording.flushed(),
        close: async () => {
          await new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          });
          await recording.close();
        },
      });
    });
  });
}
