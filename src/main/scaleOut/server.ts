/**
 * `vrft reward-server`'s HTTP side: vrft's rewards for a TRL run, behind the run's token.
 *
 *   POST /v1/score  {step, process, processes, items: [{sample_id, completion, tokens, truncated}]}
 *                   → {components: {name: [..]}, total: [..]}  (and the rollouts are recorded)
 *   POST /v1/log    {step, logs: {...}}            one of TRL's log entries → the run's metrics
 *   POST /v1/event  {event: train_begin | checkpoint | train_end, step, path?}
 *   GET  /v1/health → {run, rewards, rollouts}
 *
 * Every request carries `Authorization: Bearer <token>`; a bad body is a 400 saying what is wrong.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../../shared/errors';
import { sameToken } from '../host/auth';
import type { Db } from '../store/db';
import { checkScoreRequest, RunRecorder } from './recorder';
import type { ScaleOutPlan } from './plan';

/** A batch of 64 completions is ~100 KB; a whole generation round of long ones stays far below this. */
const maxBody = 64 * 1024 * 1024;

export interface RewardServer {
  url: string;
  port: number;
  recorder: RunRecorder;
  close(): Promise<void>;
}

export interface ServeOptions {
  host: string;
  port: number;
  onRound?: (step: number, count: number, metrics: Record<string, number>) => void;
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
  const recorder = new RunRecorder(db, plan, options.onRound);
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
          rollouts: recorder.rollouts,
        });
      case 'POST /v1/score':
        return send(res, 200, recorder.score(checkScoreRequest(await readBody(req))));
      case 'POST /v1/log': {
        const body = (await readBody(req)) as { step?: number; logs?: Record<string, unknown> } | null;
        recorder.log(body?.step as number, body?.logs ?? {});
        return send(res, 200, { ok: true });
      }
      case 'POST /v1/event':
        recorder.event(((await readBody(req)) ?? {}) as Record<string, unknown>);
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
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UserError(
              'invalid_input',
              `port ${options.port} on ${options.host} is taken: choose another with --port`,
            )
          : error,
      ),
    );
    server.listen(options.port, options.host, () => {
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        port,
        recorder,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
