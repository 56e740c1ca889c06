/**
 * The engine host's HTTP and WebSocket server: serves the built renderer and speaks the contract
 * over WebSocket. Nothing is answered without the session token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { contentSecurityPolicy } from '../../shared/csp';
import type { EventName, EventPayload, WireMessage, WireRequest } from '../../shared/contract';
import { cookieName, cookieToken, sameToken } from './auth';
import type { Dispatch } from './dispatch';
import { readStatic } from './static';
import { UserError } from '../../shared/errors';

export interface ServerOptions {
  host: string;
  port: number;
  token: string;
  rendererDir: string;
  dispatch: Dispatch;
  log: (line: string) => void;
  /** Limits a misbehaving client meets (defaults: `limits`); tests lower them. */
  limits?: Partial<typeof limits>;
}

/**
 * What one client may cost the host. A message over `messageBytes` is answered with an error and
 * the socket kept; one over `maxPayloadBytes` is never buffered whole (the socket is closed, 1009).
 * A client that stops reading while `bufferedBytes` of replies and events wait for it is closed,
 * so it cannot grow the host's memory without bound.
 */
export const limits = {
  messageBytes: 8 * 1024 * 1024,
  maxPayloadBytes: 32 * 1024 * 1024,
  bufferedBytes: 64 * 1024 * 1024,
};

export interface RunningServer {
  port: number;
  url: string;
  broadcast<E extends EventName>(event: E, payload: EventPayload<E>): void;
  close(): Promise<void>;
}

const securityHeaders = {
  'Content-Security-Policy': `${contentSecurityPolicy}; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const refusal =
  'Unauthorized: open the URL that `vrft serve` printed; it carries the session token (?token=…).\n';

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { token, log } = options;
  const limit = { ...limits, ...options.limits };
  let port = 0;

  const server = http.createServer((req, res) => {
    void handleHttp(req, res).catch((error: unknown) => {
      log(`http: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500).end('Internal error\n');
    });
  });

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!allowedHost(req.headers.host, options.host, port)) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders });
      res.end(hostRefusal(req.headers.host));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://host');
    const queryToken = url.searchParams.get('token');
    const authorised = sameToken(token, queryToken) || sameToken(token, cookieToken(req, port));
    if (!authorised) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders });
      res.end(refusal);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {
        Allow: 'GET, HEAD',
        'Content-Type': 'text/plain; charset=utf-8',
        ...securityHeaders,
      });
      res.end(
        `${req.method ?? ''} is not served here: the app is read with GET, calls go over the WebSocket at /ws.\n`,
      );
      return;
    }
    const file = await readStatic(options.rendererDir, url.pathname);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders });
      res.end('Not found\n');
      return;
    }
    const headers: Record<string, string> = {
      'Content-Type': file.contentType,
      'Cache-Control': file.isIndex ? 'no-store' : 'private, max-age=3600',
      ...securityHeaders,
    };
    if (sameToken(token, queryToken)) {
      headers['Set-Cookie'] = `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  const sockets = new WebSocketServer({ noServer: true, maxPayload: limit.maxPayloadBytes });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://host');
    // A page of another site (or a DNS name rebound to loopback) never reaches the contract, even
    // with the token: the Host must be a loopback name or the configured host, and a browser's
    // Origin this very host.
    const host = req.headers.host;
    const origin = req.headers.origin;
    if (!allowedHost(host, options.host, port) || (origin !== undefined && origin !== `http://${host}`)) {
      log(`refused a WebSocket from origin ${origin ?? '(none)'} to host ${host ?? '(none)'}`);
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (url.pathname !== '/ws' || !sameToken(token, url.searchParams.get('token'))) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => serveSocket(ws));
  });

  function send(ws: WebSocket, message: WireMessage): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > limit.bufferedBytes) {
      log(`closed a client that stopped reading (${ws.bufferedAmount} bytes waiting for it)`);
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify(message));
  }

  function serveSocket(ws: WebSocket): void {
    // ws closes the socket itself (1009) past maxPayload; the host only notes it and stays up.
    ws.on('error', (error) => log(`websocket: ${error.message}`));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const refuse = (message: string, id = -1) =>
        send(ws, { id, result: { ok: false, error: { code: 'invalid_input', message } } });
      if (data.length > limit.messageBytes) {
        const id = /^\s*\{\s*"id"\s*:\s*(\d+)/.exec(data.subarray(0, 64).toString())?.[1];
        const mib = (n: number) =>
          n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
        refuse(
          `A message of ${mib(data.length)} is over the host's limit of ${mib(limit.messageBytes)}: ` +
            'send less at once (fewer boxes or images per call).',
          id === undefined ? -1 : Number(id),
        );
        return;
      }
      if (isBinary) {
        refuse(`A binary frame: the host reads requests as text frames of JSON ${requestShape}.`);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(data));
      } catch (error) {
        refuse(`The message is not JSON (${(error as Error).message}): send ${requestShape}.`);
        return;
      }
      const problem = requestProblem(parsed);
      if (problem) {
        refuse(problem.message, problem.id);
        return;
      }
      const request = parsed as WireRequest;
      options
        .dispatch(request.call, request.input)
        // dispatch answers every failure with an envelope; should one escape it anyway, the
        // client still gets an answer and the host stays up (an unhandled rejection ends Node).
        .catch((error: unknown) => {
          log(
            `${request.call} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
          return {
            ok: false as const,
            error: {
              code: 'internal' as const,
              message: `${request.call} failed unexpectedly; this is a bug in vrft.`,
            },
          };
        })
        .then((result) => send(ws, { id: request.id, result }));
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, options)));
    server.listen(options.port, options.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const hostInUrl = urlHost(options.host);

  return {
    port,
    url: `http://${hostInUrl}:${port}/?token=${token}`,
    broadcast(event, payload) {
      const message: WireMessage = { event, payload };
      for (const ws of sockets.clients) send(ws, message);
    },
    close() {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const requestShape = '{"id": 1, "call": "datasets.list", "input": {}}';

/** What is wrong with a parsed message as a request, and the id to answer it with; none if nothing. */
function requestProblem(value: unknown): { message: string; id: number } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { id: -1, message: `The message is not a request: send an object ${requestShape}.` };
  }
  const { id, call } = value as Record<string, unknown>;
  if (id === undefined) {
    return {
      id: -1,
      message: `The request has no "id" (a whole number the answer repeats): send ${requestShape}.`,
    };
  }
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
    return {
      id: -1,
      message: `The request's "id" must be a whole number, not ${typeof id === 'number' ? id : JSON.stringify(id)}.`,
    };
  }
  if (typeof call !== 'string') {
    return {
      id,
      message: `The request has no "call" (the name of a call, as a string): send ${requestShape}.`,
    };
  }
  return undefined;
}

function listenError(error: NodeJS.ErrnoException, { host, port }: ServerOptions): Error {
  if (error.code === 'EADDRINUSE') {
    return new UserError(
      'conflict',
      `port ${port} is in use: pick another with --port N, or --port 0 for any free one.`,
    );
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new UserError('invalid_input', `cannot listen on ${host}: it is not an address of this machine.`);
  }
  if (error.code === 'EACCES') {
    return new UserError('invalid_input', `not allowed to listen on port ${port}: use a port above 1023.`);
  }
  return error;
}

/** A wildcard address is reached from this machine at loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

const loopbackNames = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a request's Host header names this host: a loopback name or the configured address,
 * with this port. Bound to a wildcard address, any IP literal is allowed too (a DNS rebinding
 * attack needs a name; an address typed by the user is not one).
 */
export function allowedHost(header: string | undefined, configured: string, port: number): boolean {
  if (!header) return false;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d+)$/.exec(header.toLowerCase());
  if (!match || Number(match[2]) !== port) return false;
  const name = match[1]!;
  if (loopbackNames.has(name) || name === urlHost(configured).toLowerCase()) return true;
  const wildcard = configured === '0.0.0.0' || configured === '::';
  return wildcard && (/^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.startsWith('['));
}

function hostRefusal(header: string | undefined): string {
  return (
    `Refused: this vrft host answers only at its own address, not "${header ?? ''}". ` +
    'Open the URL that `vrft serve` printed.\n'
  );
}
