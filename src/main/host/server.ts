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
}

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
  let port = 0;

  const server = http.createServer((req, res) => {
    void handleHttp(req, res).catch((error: unknown) => {
      log(`http: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500).end('Internal error\n');
    });
  });

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://host');
    const queryToken = url.searchParams.get('token');
    const authorised = sameToken(token, queryToken) || sameToken(token, cookieToken(req, port));
    if (!authorised) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders });
      res.end(refusal);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
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

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://host');
    if (url.pathname !== '/ws' || !sameToken(token, url.searchParams.get('token'))) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => serveSocket(ws));
  });

  function serveSocket(ws: WebSocket): void {
    ws.on('message', (data) => {
      let request: WireRequest;
      try {
        request = JSON.parse(String(data)) as WireRequest;
        if (typeof request.id !== 'number' || typeof request.call !== 'string') throw new Error();
      } catch {
        send(ws, {
          id: -1,
          result: { ok: false, error: { code: 'invalid_input', message: 'Malformed message.' } },
        });
        return;
      }
      void options.dispatch(request.call, request.input).then((result) => {
        send(ws, { id: request.id, result });
      });
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

function send(ws: WebSocket, message: WireMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}
