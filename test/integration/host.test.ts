import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createClient,
  socketTransport,
  ContractError,
  type Client,
  type SocketLike,
} from '../../src/shared/client';
import { startHost, type HostOptions, type RunningHost } from '../../src/main/host/index';

let dir: string;
let host: RunningHost;
const logs: string[] = [];
const clients: Client[] = [];

function rendererDir(): string {
  const renderer = path.join(dir, 'renderer');
  mkdirSync(path.join(renderer, 'assets'), { recursive: true });
  writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>vrft</title>');
  writeFileSync(path.join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  return renderer;
}

async function start(port = 0, limits?: HostOptions['limits']): Promise<RunningHost> {
  return startHost({
    limits,
    host: '127.0.0.1',
    port,
    dataDir: path.join(dir, 'data'),
    rendererDir: path.join(dir, 'renderer'),
    version: 'test',
    token: 'tok-123',
    log: (line) => logs.push(line),
    probeEngine: false,
  });
}

function connect(port: number, callTimeoutMs = 5000): Client {
  const url = `ws://127.0.0.1:${port}/ws?token=tok-123`;
  const client = createClient(
    socketTransport(url, (u) => new WebSocket(u) as unknown as SocketLike, {
      retryDelaysMs: [50],
      callTimeoutMs,
    }),
  );
  clients.push(client);
  return client;
}

function base(): string {
  return `http://127.0.0.1:${host.port}`;
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-host-'));
  rendererDir();
  host = await start();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('engine host over HTTP', () => {
  it('refuses every request without the token', async () => {
    for (const url of [
      `${base()}/`,
      `${base()}/assets/app.js`,
      `${base()}/?token=wrong`,
      `${base()}/?token=`,
    ]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(401);
      expect(await res.text()).toContain('token');
    }
  });

  it('serves the app with the token, a CSP, and a cookie for its own assets', async () => {
    const res = await fetch(`${base()}/?token=tok-123`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>vrft</title>');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const asset = await fetch(`${base()}/assets/app.js`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toContain('javascript');
  });

  it('never serves a file outside the renderer folder', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt']) {
      const res = await fetch(`${base()}${p}?token=tok-123`);
      expect(await res.text()).not.toContain('secret');
    }
  });
});

describe('engine host over WebSocket', () => {
  it('refuses a socket without the right token', async () => {
    for (const url of [`ws://127.0.0.1:${host.port}/ws`, `ws://127.0.0.1:${host.port}/ws?token=bad`]) {
      const status = await new Promise<number | string>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve('open'));
        ws.on('error', () => resolve('error'));
      });
      expect(status).toBe(401);
    }
  });

  it('speaks the contract: create, list, rename, delete datasets', async () => {
    const client = connect(host.port);
    const created = await client.call('datasets.create', { name: 'shapes', description: 'few-shot' });
    expect(created).toMatchObject({ name: 'shapes', description: 'few-shot', imageCount: 0 });
    await client.call('datasets.rename', { id: created.id, name: 'shapes-v2' });
    expect((await client.call('datasets.list', {})).map((d) => d.name)).toEqual(['shapes-v2']);
    await client.call('datasets.delete', { id: created.id });
    expect(await client.call('datasets.list', {})).toEqual([]);
    const info = await client.call('app.info', {});
    expect(info).toMatchObject({ version: 'test', backend: 'unknown', dataDir: path.join(dir, 'data') });
  });

  it('answers bad input and bad messages with an error, and keeps serving', async () => {
    const client = connect(host.port);
    await expect(client.call('datasets.delete', { id: -1 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(client.call('datasets.delete', { id: 999 })).rejects.toMatchObject({ code: 'not_found' });
    await client.call('datasets.create', { name: 'a' });
    const dup = await client.call('datasets.create', { name: 'a' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ContractError);
    expect((dup as ContractError).code).toBe('conflict');

    const raw = new WebSocket(`ws://127.0.0.1:${host.port}/ws?token=tok-123`);
    await new Promise((resolve) => raw.on('open', resolve));
    const reply = new Promise<string>((resolve) => raw.on('message', (data) => resolve(String(data))));
    raw.send('{not json');
    expect(JSON.parse(await reply)).toMatchObject({
      result: { ok: false, error: { code: 'invalid_input' } },
    });
    raw.close();
    expect((await client.call('datasets.list', {})).length).toBe(1);
  });

  it('pushes events to every connected client', async () => {
    const client = connect(host.port);
    await client.call('datasets.list', {});
    const received = new Promise((resolve) => client.on('job.state', resolve));
    host.broadcast('job.state', { runId: 1, state: 'running', error: null });
    expect(await received).toEqual({ runId: 1, state: 'running', error: null });
  });

  it('reconnects on its own when the host comes back, and keeps the data', async () => {
    const client = connect(host.port);
    const states: string[] = [];
    client.onState((s) => states.push(s));
    await client.call('datasets.create', { name: 'kept' });
    const port = host.port;
    await host.close();
    await expect.poll(() => states.at(-1)).toBe('reconnecting');
    // A call made while the host is down waits for it instead of failing.
    const waiting = client.call('datasets.list', {});
    host = await start(port);
    expect((await waiting).map((d) => d.name)).toEqual(['kept']);
    expect(states.at(-1)).toBe('connected');
  });

  it('fails a call as unavailable when no host answers in time', async () => {
    const port = host.port;
    await host.close();
    const client = connect(port, 150);
    await expect(client.call('datasets.list', {})).rejects.toMatchObject({ code: 'unavailable' });
    host = await start();
  });
});

/** The status of a raw WebSocket upgrade with these headers ('open' when accepted). */
function upgrade(headers: Record<string, string>, port = host.port): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=tok-123`, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      resolve('open');
      ws.close();
    });
    ws.on('error', () => resolve('error'));
  });
}

function openRaw(port = host.port): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=tok-123`);
  return new Promise((resolve) => ws.on('open', () => resolve(ws)));
}

describe('the host under pressure (issue 26)', () => {
  it('accepts only its own Host and Origin on the WebSocket, even with the token', async () => {
    const own = `127.0.0.1:${host.port}`;
    expect(await upgrade({})).toBe('open');
    expect(await upgrade({ Origin: `http://${own}` })).toBe('open');
    expect(await upgrade({ Host: `localhost:${host.port}`, Origin: `http://localhost:${host.port}` })).toBe(
      'open',
    );
    // Another site's page, a rebound DNS name, another port, an origin that is not this host.
    expect(await upgrade({ Origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade({ Host: `evil.example:${host.port}` })).toBe(403);
    expect(await upgrade({ Host: `127.0.0.1:${host.port + 1}` })).toBe(403);
    expect(await upgrade({ Origin: `http://localhost:${host.port}` })).toBe(403);
    expect(await upgrade({ Origin: 'null' })).toBe(403);
    // HTTP too: a rebound name gets nothing, with the token.
    // (fetch cannot set Host: a plain request can.)
    const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const headers = { Host: `evil.example:${host.port}` };
      const req = http.get(
        { host: '127.0.0.1', port: host.port, path: '/?token=tok-123', headers },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += String(d)));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
    });
    expect(rebound.status).toBe(421);
    expect(rebound.body).toContain('its own address');
  });

  it('answers an oversized message with an error naming the limit, and keeps the socket and the host', async () => {
    await host.close();
    host = await start(0, { messageBytes: 1024, maxPayloadBytes: 64 * 1024 });
    const ws = await openRaw();
    const replies: unknown[] = [];
    ws.on('message', (data) => replies.push(JSON.parse(String(data))));
    ws.send(JSON.stringify({ id: 7, call: 'datasets.create', input: { name: 'x'.repeat(4000) } }));
    await expect.poll(() => replies.length).toBe(1);
    expect(replies[0]).toMatchObject({ id: 7, result: { ok: false, error: { code: 'invalid_input' } } });
    expect(JSON.stringify(replies[0])).toContain("A message of 4.0 KiB is over the host's limit of 1.0 KiB");
    ws.send(JSON.stringify({ id: 8, call: 'datasets.list', input: {} }));
    await expect.poll(() => replies.length).toBe(2);
    expect(replies[1]).toMatchObject({ id: 8, result: { ok: true, value: [] } });
    // Past the hard cap the socket is closed (1009), never buffered; the host still serves others.
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.send('x'.repeat(100 * 1024));
    expect(await closed).toBe(1009);
    expect(await connect(host.port).call('datasets.list', {})).toEqual([]);
  });

  it('closes a client that stops reading instead of buffering for it without bound', async () => {
    await host.close();
    host = await start(0, { bufferedBytes: 256 * 1024 });
    const stalled = await openRaw();
    const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
    // Stop reading: the kernel buffers fill, then the host's.
    (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
    const reader = connect(host.port);
    await reader.call('datasets.list', {});
    let seen = 0;
    reader.on('job.progress', () => seen++);
    const big = {
      runId: 1,
      step: 1,
      totalSteps: 1,
      metrics: {},
      etaSeconds: null,
      note: 'x'.repeat(64 * 1024),
    };
    const stoppedReading = () => logs.some((l) => l.includes('stopped reading'));
    for (let i = 0; i < 2000 && !stoppedReading(); i++) {
      host.broadcast('job.progress', big as never);
      await new Promise((r) => setImmediate(r));
    }
    expect(stoppedReading()).toBe(true);
    // Reading again, it finds the host closed it.
    (stalled as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
    // The reading client got its events and the host still answers.
    expect(seen).toBeGreaterThan(0);
    expect(await reader.call('datasets.list', {})).toEqual([]);
  });

  it('answers 2,000 concurrent calls, and a call made among them', async () => {
    const client = connect(host.port, 60_000);
    await client.call('datasets.create', { name: 'busy' });
    const many = Array.from({ length: 2000 }, (_, i) =>
      i % 2 ? client.call('datasets.list', {}) : client.call('app.info', {}),
    );
    const info = client.call('app.info', {});
    const answers = await Promise.all(many);
    expect(answers).toHaveLength(2000);
    expect(answers.filter((a) => Array.isArray(a) && a[0]?.name === 'busy')).toHaveLength(1000);
    expect(await info).toMatchObject({ version: 'test' });
  });
});
