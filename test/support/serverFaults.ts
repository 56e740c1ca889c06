/**
 * The fault suite's server group (issue 26): a case sends one bad input — a request without the
 * token, from another site, not JSON, too big, too deep, naming a path it should not — to a real
 * `vrft serve` on a copy of the baseline workspace, and the runner sorts the outcome as faults.ts
 * sorts a command's: clean (an error envelope, close code or HTTP status saying what is wrong, the
 * host still up and answering a normal call, the workspace unchanged, nothing left running), a
 * crash (the host exited, or a handler hit a bug and logged its stack), a hang, data lost, a
 * process left behind, accepted (the input was taken as if it were good) or an unclear message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import WebSocket from 'ws';
import {
  changedSince,
  leftovers,
  snapshot,
  type FaultContext,
  type FaultResult,
  type Outcome,
} from './faults';

/** A running host a case talks to. */
export interface HostUnderTest {
  port: number;
  token: string;
}

/** What came back for the bad input, as one line: `HTTP 401: …`, `closed 1009`, `error invalid_input: …`. */
export interface Answer {
  text: string;
  /** The input was taken as a good one (a 200, an `ok` envelope, an opened socket). */
  accepted: boolean;
}

export interface ServerFaultCase {
  group: string;
  name: string;
  /** Makes files the input names (in the case's folder), before the host starts. */
  make?(ctx: FaultContext): void;
  /** Sends the bad input and says what came back. */
  send(host: HostUnderTest, ctx: FaultContext): Promise<Answer>;
  /** What the answer must say: what is wrong. */
  message: RegExp;
  /** Seconds before the case counts as a hang (default 30). */
  limit?: number;
  /**
   * A bug the case finds that is not fixed yet: the suite expects it not to be clean (and counts
   * it in the totals) until it is; then remove this.
   */
  knownBug?: string;
}

export const wsUrl = (host: HostUnderTest, token = host.token) =>
  `ws://127.0.0.1:${host.port}/ws?token=${encodeURIComponent(token)}`;

/** An open socket to the host, with the token. */
export function openSocket(host: HostUnderTest): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl(host));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** An event the host pushes to every client (engine.ready, job.progress), not a reply. */
export const isEvent = (data: unknown) => String(data).startsWith('{"event":');

/** The envelope in a reply, as an answer. */
function envelopeAnswer(data: unknown): Answer {
  const reply = JSON.parse(String(data)) as {
    id?: unknown;
    result?: { ok: boolean; value?: unknown; error?: { code: string; message: string } };
  };
  if (reply.result?.ok)
    return { accepted: true, text: `ok: ${JSON.stringify(reply.result.value).slice(0, 200)}` };
  const error = reply.result?.error;
  return {
    accepted: false,
    text: error ? `error ${error.code} (id ${String(reply.id)}): ${error.message}` : `reply: ${String(data)}`,
  };
}

/**
 * Sends one frame (a string as text, a Buffer as binary, anything else as JSON) on a new socket
 * and answers with the first reply, the close, or the refused upgrade.
 */
export function sendFrame(host: HostUnderTest, frame: unknown, token = host.token): Promise<Answer> {
  const ws = new WebSocket(wsUrl(host, token));
  return new Promise<Answer>((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve({ accepted: false, text: `HTTP ${res.statusCode ?? 0}` });
      res.resume();
    });
    ws.on('open', () => {
      const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
      ws.send(data, { binary: Buffer.isBuffer(frame) });
    });
    ws.on('message', (data) => {
      if (isEvent(data)) return;
      resolve(envelopeAnswer(data));
      ws.close();
    });
    ws.on('close', (code, reason) => resolve({ accepted: false, text: `closed ${code} ${String(reason)}` }));
    ws.on('error', (error) => resolve({ accepted: false, text: `socket error: ${error.message}` }));
  }).finally(() => ws.terminate());
}

/** One contract call on a new socket. */
export const call = (host: HostUnderTest, name: string, input: unknown, id = 1) =>
  sendFrame(host, { id, call: name, input });

/** A WebSocket upgrade with these headers: its status, or `opened` (accepted). */
export function upgrade(
  host: HostUnderTest,
  headers: Record<string, string>,
  token = host.token,
): Promise<Answer> {
  const ws = new WebSocket(wsUrl(host, token), { headers });
  return new Promise<Answer>((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve({ accepted: false, text: `HTTP ${res.statusCode ?? 0}` });
      res.resume();
    });
    ws.on('open', () => resolve({ accepted: true, text: 'opened' }));
    ws.on('error', (error) => resolve({ accepted: false, text: `socket error: ${error.message}` }));
  }).finally(() => ws.terminate());
}

/** A plain HTTP request: its status and body. */
export function httpGet(
  host: HostUnderTest,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: host.port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += String(d)));
      res.on('end', () =>
        resolve({
          accepted: res.statusCode === 200,
          text: `HTTP ${res.statusCode}: ${body.trim().slice(0, 300)}`,
        }),
      );
    });
    req.on('error', (error) => resolve({ accepted: false, text: `request error: ${error.message}` }));
    req.end();
  });
}

interface StartedHost extends HostUnderTest {
  child: ChildProcess;
  exited: () => boolean;
  stderr: () => string;
}

/** `vrft serve` on the case's workspace, on any free port; its URL read from stdout. */
function startHost(data: string): Promise<StartedHost> {
  const child = spawn(process.execPath, ['bin/vrft.js', 'serve', '--port', '0', '--data', data], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The host's engine probe times every native kernel (seconds of CPU per host, with other
    // cases running beside it); no case here trains, so it finds the wasm backend alone.
    env: { ...process.env, VRFT_NATIVE: '0' },
  });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.on('exit', () => (exited = true));
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vrft serve did not start in 30 s: ${stderr}`)), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vrft serve exited (${code}) before serving: ${stderr}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      stdout += String(d);
      const url = /at http:\/\/127\.0\.0\.1:(\d+)\/\?token=(\S+)/.exec(stdout);
      if (!url) return;
      clearTimeout(timer);
      resolve({
        port: Number(url[1]),
        token: url[2]!,
        child,
        exited: () => exited,
        stderr: () => stderr,
      });
    });
  });
}

/** Stops the host as the shell does (SIGTERM); false when it had to be killed. */
async function stopHost(host: StartedHost): Promise<boolean> {
  if (host.exited()) return true;
  const exited = new Promise<void>((resolve) => host.child.once('exit', () => resolve()));
  host.child.kill('SIGTERM');
  const timer = setTimeout(() => host.child.kill('SIGKILL'), 10_000);
  const stoppedInTime = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
  ]);
  await exited;
  clearTimeout(timer);
  return stoppedInTime;
}

/** Whether the host answers a normal call on a new socket: the baseline's dataset list. */
async function answersNormally(host: HostUnderTest): Promise<string | undefined> {
  const answer = await withLimit(call(host, 'datasets.list', {}, 9), 15_000);
  if (answer === 'timeout') return 'a normal call (datasets.list) got no answer in 15 s';
  if (!answer.accepted || !answer.text.includes('"shapes"')) return `a normal call got ${answer.text}`;
  return undefined;
}

function withLimit<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Runs one case against a host of its own on `ctx.data` and sorts its outcome. */
export async function runServerFault(c: ServerFaultCase, ctx: FaultContext): Promise<FaultResult> {
  const result = (outcome: Outcome, detail: string): FaultResult => ({
    group: c.group,
    name: c.name,
    outcome,
    detail,
  });
  c.make?.(ctx);
  const before = snapshot(ctx.dir, ctx.data);
  const host = await startHost(ctx.data);
  const limit = (c.limit ?? 30) * 1000;
  let answer: Answer | 'timeout';
  let afterwards: string | undefined;
  let stopped: boolean;
  try {
    answer = await withLimit(
      c
        .send(host, ctx)
        .catch((error: unknown) => ({ accepted: false, text: `the case failed: ${String(error)}` })),
      limit,
    );
    afterwards = host.exited() ? 'the host exited' : await answersNormally(host);
  } finally {
    stopped = await stopHost(host);
  }
  const crashed = (why: string) => result('crash', `${why}; host stderr: ${host.stderr().slice(-500)}`);
  if (afterwards === 'the host exited') return crashed('the host exited');
  // A handler that threw what it should not logs its stack (dispatch.ts): a bug in vrft.
  if (/\n\s+at [^\n]+:\d+:\d+/.test(host.stderr())) return crashed('a stack trace in the host log');
  if (answer === 'timeout') return result('hang', `no answer in ${limit / 1000} s`);
  if (afterwards) return result('hang', afterwards);
  if (!stopped) return result('hang', 'the host did not stop in 10 s on SIGTERM');
  const left = leftovers(ctx.dir);
  if (left.length) return result('leftover', left.join('; '));
  const changed = changedSince(before, ctx);
  if (changed.length) return result('lost', changed.slice(0, 5).join('; '));
  if (answer.accepted) return result('accepted', answer.text);
  if (!c.message.test(answer.text)) return result('unclear', answer.text);
  return result('clean', answer.text.slice(0, 300));
}
