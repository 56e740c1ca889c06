import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
import { startHost, type RunningHost } from '../../src/main/host/index';

let dir: string;
let host: RunningHost;
const clients: Client[] = [];

function rendererDir(): string {
  const renderer = path.join(dir, 'renderer');
  mkdirSync(path.join(renderer, 'assets'), { recursive: true });
  writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>vrft</title>');
  writeFileSync(path.join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  return renderer;
}

async function start(port = 0): Promise<RunningHost> {
  return startHost({
    host: '127.0.0.1',
    port,
    dataDir: path.join(dir, 'data'),
    rendererDir: path.join(dir, 'renderer'),
    version: 'test',
    token: 'tok-123',
    log: () => {},
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
