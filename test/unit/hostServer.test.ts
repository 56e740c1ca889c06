/**
 * The host's socket loop when dispatch itself fails (issue 26): dispatch answers every handler
 * failure with an envelope, but a rejection that escaped it would be an unhandled rejection, which
 * ends Node, and the host with it. The server answers it as an internal error and keeps serving.
 */
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/main/host/server';

let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
});

it('answers a dispatch that rejects as an internal error, and keeps serving', async () => {
  const logs: string[] = [];
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    token: 'tok',
    rendererDir: '/nonexistent',
    log: (line) => logs.push(line),
    dispatch: (name) =>
      name === 'datasets.list'
        ? Promise.reject(new RangeError('Maximum call stack size exceeded'))
        : Promise.resolve({ ok: true, value: 'fine' }),
  });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=tok`);
  await new Promise((resolve) => ws.once('open', resolve));
  const replies: unknown[] = [];
  ws.on('message', (data) => replies.push(JSON.parse(String(data))));
  ws.send(JSON.stringify({ id: 5, call: 'datasets.list', input: {} }));
  ws.send(JSON.stringify({ id: 6, call: 'app.info', input: {} }));
  await expect.poll(() => replies.length).toBe(2);
  expect(replies).toContainEqual({
    id: 5,
    result: {
      ok: false,
      error: { code: 'internal', message: 'datasets.list failed unexpectedly; this is a bug in vrft.' },
    },
  });
  expect(replies).toContainEqual({ id: 6, result: { ok: true, value: 'fine' } });
  expect(logs.join('\n')).toContain('RangeError: Maximum call stack size exceeded');
  ws.close();
});
