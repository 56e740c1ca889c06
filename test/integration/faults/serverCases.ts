/**
 * Fault cases of the engine host (issue 26): what reaches `vrft serve` from a page of another
 * site, a client without the token, a buggy or hostile client — frames that are not requests,
 * inputs of the wrong type or absurd size, paths the user did not name — and clients that stop
 * reading or send thousands of calls at once. Each is refused with a status, close code or error
 * envelope saying what is wrong; the host keeps serving and the workspace is unchanged.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  call,
  httpGet,
  isEvent,
  openSocket,
  sendFrame,
  upgrade,
  type Answer,
  type HostUnderTest,
  type ServerFaultCase,
} from '../../support/serverFaults';

const group = 'server';
const MiB = 1024 * 1024;
const unauthorised =
  /^HTTP 401: Unauthorized: open the URL that `vrft serve` printed; it carries the session token/;

/** A request whose `input` holds `depth` nested arrays. */
function deeplyNested(depth: number, wrap: (nested: string) => string): string {
  return wrap(`${'['.repeat(depth)}${']'.repeat(depth)}`);
}

/** Many calls at once on one socket, and one more among them: how many came back, and that one. */
async function burst(host: HostUnderTest, count: number): Promise<Answer> {
  const ws = await openSocket(host);
  const replies = new Map<number, string>();
  const all = new Promise<void>((resolve) =>
    ws.on('message', (data) => {
      if (isEvent(data)) return;
      const reply = JSON.parse(String(data)) as { id: number };
      replies.set(reply.id, String(data));
      if (replies.size === count + 1) resolve();
    }),
  );
  for (let id = 1; id <= count; id++) {
    ws.send(JSON.stringify({ id, call: id % 2 ? 'datasets.list' : 'app.info', input: {} }));
    if (id === count / 2) ws.send(JSON.stringify({ id: 0, call: 'images.list', input: { datasetId: 1 } }));
  }
  await all;
  ws.close();
  const among = JSON.parse(replies.get(0) ?? '{}') as { result?: { value?: { items: unknown[] } } };
  const failed = [...replies.values()].filter((r) => !r.includes('"ok":true')).length;
  return {
    accepted: false,
    text:
      `${replies.size} answers, ${failed} of them errors; ` +
      `the call among them listed ${among.result?.value?.items.length ?? 'no'} images`,
  };
}

/** A client that sends calls and never reads the answers, while another client calls the host. */
async function stopsReading(host: HostUnderTest): Promise<Answer> {
  const stalled = await openSocket(host);
  (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
  const big = JSON.stringify({ id: 1, call: 'images.list', input: { datasetId: 1 } });
  for (let i = 0; i < 5000; i++) stalled.send(big);
  const other = await call(host, 'datasets.list', {});
  stalled.terminate();
  return { accepted: false, text: `while one client stopped reading, another got ${other.text}` };
}

export const serverCases: ServerFaultCase[] = [
  // ── who may talk to the host ─────────────────────────────────────────────────────────────────
  {
    group,
    name: 'HTTP: the app without the token',
    send: (host) => httpGet(host, '/'),
    message: unauthorised,
  },
  {
    group,
    name: 'HTTP: the app with a wrong token',
    send: (host) => httpGet(host, '/?token=not-the-token'),
    message: unauthorised,
  },
  {
    group,
    name: 'HTTP: a Host header of another site (DNS rebinding), with the token',
    send: (host) => httpGet(host, `/?token=${host.token}`, { Host: `evil.example:${host.port}` }),
    message: /^HTTP 421: Refused: this vrft host answers only at its own address, not "evil\.example:\d+"/,
  },
  {
    group,
    name: 'HTTP: a POST, with the token',
    send: (host) => httpGet(host, `/?token=${host.token}`, {}, 'POST'),
    message:
      /^HTTP 405: POST is not served here: the app is read with GET, calls go over the WebSocket at \/ws/,
  },
  {
    group,
    name: 'HTTP: a path out of the app folder (..), with the token',
    send: (host) => httpGet(host, `/%2e%2e/%2e%2e/package.json?token=${host.token}`),
    message: /^HTTP 404: Not found/,
  },
  {
    group,
    name: 'WebSocket: no token',
    send: (host) => sendFrame(host, { id: 1, call: 'datasets.list', input: {} }, ''),
    message: /^HTTP 401$/,
  },
  {
    group,
    name: 'WebSocket: a wrong token',
    send: (host) => sendFrame(host, { id: 1, call: 'datasets.list', input: {} }, 'not-the-token'),
    message: /^HTTP 401$/,
  },
  {
    group,
    name: 'WebSocket: a Host header of another site, with the token',
    send: (host) => upgrade(host, { Host: `evil.example:${host.port}` }),
    message: /^HTTP 403$/,
  },
  {
    group,
    name: 'WebSocket: a page of another site (foreign Origin), with the token',
    send: (host) => upgrade(host, { Origin: 'http://evil.example' }),
    message: /^HTTP 403$/,
  },
  // ── frames that are not requests ─────────────────────────────────────────────────────────────
  {
    group,
    name: 'WebSocket: text that is not JSON',
    send: (host) => sendFrame(host, '{"id": 1, "call": "datasets.list", '),
    message: /^error invalid_input \(id -1\): The message is not JSON \(.+\): send \{"id"/,
  },
  {
    group,
    name: 'WebSocket: a binary frame',
    send: (host) => sendFrame(host, Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x7b])),
    message: /^error invalid_input \(id -1\): A binary frame: the host reads requests as text frames/,
  },
  {
    group,
    name: 'WebSocket: JSON that is not a request (an array)',
    send: (host) => sendFrame(host, '[1, 2, 3]'),
    message: /^error invalid_input \(id -1\): The message is not a request: send an object \{"id"/,
  },
  {
    group,
    name: 'WebSocket: a request without an id',
    send: (host) => sendFrame(host, { call: 'datasets.list', input: {} }),
    message: /^error invalid_input \(id -1\): The request has no "id" \(a whole number/,
  },
  {
    group,
    name: 'WebSocket: a request whose id is 1e999 (Infinity once parsed)',
    send: (host) => sendFrame(host, '{"id": 1e999, "call": "datasets.list", "input": {}}'),
    message: /^error invalid_input \(id -1\): The request's "id" must be a whole number, not Infinity/,
  },
  {
    group,
    name: 'WebSocket: a request without a call name',
    send: (host) => sendFrame(host, { id: 4, input: {} }),
    message: /^error invalid_input \(id 4\): The request has no "call"/,
  },
  {
    group,
    name: 'WebSocket: a call that does not exist',
    send: (host) => call(host, 'datasets.drop', {}),
    message: /^error unknown_call \(id 1\): There is no call named "datasets\.drop"/,
  },
  // ── inputs of the wrong type or size ─────────────────────────────────────────────────────────
  {
    group,
    name: 'call: parameters of the wrong types',
    send: (host) => call(host, 'datasets.rename', { id: '1', name: 5 }),
    message: /^error invalid_input \(id 1\): datasets\.rename: id: .*number.*; name: .*string/i,
  },
  {
    group,
    name: 'call: an input that is not an object',
    send: (host) => call(host, 'datasets.list', 'everything'),
    message: /^error invalid_input \(id 1\): datasets\.list: .*object/i,
  },
  {
    group,
    name: 'call: a negative id',
    send: (host) => call(host, 'datasets.delete', { id: -1 }),
    message: /^error invalid_input \(id 1\): datasets\.delete: id: .*(positive|>0|greater than 0)/i,
  },
  {
    group,
    name: 'call: NaN for an id (not JSON)',
    send: (host) => sendFrame(host, '{"id": 1, "call": "datasets.delete", "input": {"id": NaN}}'),
    message: /^error invalid_input \(id -1\): The message is not JSON/,
  },
  {
    group,
    name: 'call: 1e999 (Infinity) for an id',
    send: (host) => sendFrame(host, '{"id": 1, "call": "datasets.delete", "input": {"id": 1e999}}'),
    message: /^error invalid_input \(id 1\): datasets\.delete: id: /,
  },
  {
    group,
    name: 'call: 2^70 for an id',
    send: (host) => call(host, 'datasets.delete', { id: 2 ** 70 }),
    message: /^error (invalid_input|not_found) \(id 1\): .*(datasets\.delete: id: |does not exist)/,
  },
  {
    group,
    name: 'call: a box with Infinity for a corner',
    send: (host) =>
      sendFrame(
        host,
        '{"id": 1, "call": "annotations.add", "input": {"imageId": 1, "categoryId": 1, ' +
          '"box": {"x1": 0, "y1": 0, "x2": 1e999, "y2": 5}}}',
      ),
    message: /^error invalid_input \(id 1\): annotations\.add: /,
  },
  {
    group,
    name: 'call: a dataset name of 1 MB',
    send: (host) => call(host, 'datasets.create', { name: 'x'.repeat(MiB) }),
    message: /^error invalid_input \(id 1\): datasets\.create: name: .*200/,
  },
  {
    group,
    name: 'call: a category name of 1 MB',
    send: (host) => call(host, 'categories.add', { datasetId: 1, name: 'x'.repeat(MiB) }),
    message: /^error invalid_input \(id 1\): categories\.add: name: .*200/,
  },
  {
    group,
    name: 'WebSocket: a message of 9 MiB (over the 8 MiB limit)',
    send: (host) => call(host, 'datasets.create', { name: 'x'.repeat(9 * MiB) }),
    message:
      /^error invalid_input \(id 1\): A message of 9\.0 MiB is over the host's limit of 8\.0 MiB: send less/,
  },
  {
    group,
    name: 'WebSocket: a message of 33 MiB (over the 32 MiB cap)',
    send: (host) => call(host, 'datasets.create', { name: 'x'.repeat(33 * MiB) }),
    message: /^closed 1009/,
  },
  {
    group,
    name: 'WebSocket: JSON nested 100,000 levels deep',
    send: (host) =>
      sendFrame(
        host,
        deeplyNested(100_000, (n) => n),
      ),
    message: /^error invalid_input \(id -1\): The message is not a request/,
  },
  {
    group,
    name: 'call: a run config nested 100,000 levels deep',
    send: (host) =>
      sendFrame(
        host,
        deeplyNested(
          100_000,
          (n) => `{"id": 1, "call": "runs.start", "input": {"method": "sft", "config": {"dataset": ${n}}}}`,
        ),
      ),
    message: /^error invalid_input \(id 1\): .*(dataset|nested)/i,
  },
  {
    group,
    name: 'call: an input nested 100,000 levels deep',
    send: (host) =>
      sendFrame(
        host,
        deeplyNested(100_000, (n) => `{"id": 1, "call": "datasets.create", "input": {"name": ${n}}}`),
      ),
    message: /^error invalid_input \(id 1\): datasets\.create: name: /,
  },
  // ── paths ────────────────────────────────────────────────────────────────────────────────────
  {
    group,
    name: "import: the workspace's own database file",
    send: (host, ctx) =>
      call(host, 'datasets.import', { path: path.join(ctx.data, 'vrft.sqlite'), name: 'db' }),
    message: /^error \w+ \(id 1\): .*vrft\.sqlite/,
  },
  {
    group,
    name: 'import: a path through .. to a folder that is not there',
    send: (host, ctx) =>
      call(host, 'datasets.import', { path: path.join(ctx.dir, 'a') + '/../../nowhere', name: 'up' }),
    message: /^error \w+ \(id 1\): .*nowhere/,
  },
  {
    group,
    name: 'import: a named pipe',
    make: (ctx) => execFileSync('mkfifo', [path.join(ctx.dir, 'data.jsonl')]),
    send: (host, ctx) =>
      call(host, 'datasets.import', { path: path.join(ctx.dir, 'data.jsonl'), name: 'pipe' }),
    message: /^error \w+ \(id 1\): .*data\.jsonl.*(not a (regular )?file|pipe)/i,
  },
  {
    group,
    name: 'export: onto the workspace database, with force',
    send: (host, ctx) =>
      call(host, 'datasets.export', {
        datasetId: 1,
        format: 'coco',
        out: path.join(ctx.data, 'vrft.sqlite'),
        force: true,
      }),
    message: /^error invalid_input \(id 1\): .*vrft\.sqlite is the workspace's own vrft\.sqlite/,
  },
  {
    group,
    name: 'images.file: an image id that does not exist',
    send: (host) => call(host, 'images.file', { id: 999 }),
    message: /^error not_found \(id 1\): .*999/,
  },
  {
    group,
    name: 'models.inspect: a folder that is not a model (/etc)',
    send: (host) => call(host, 'models.inspect', { path: '/etc' }),
    message: /^error \w+ \(id 1\): .*\/etc/,
  },
  // ── runs ─────────────────────────────────────────────────────────────────────────────────────
  {
    group,
    name: 'runs.start: a config with a dataset that is not there and -5 steps',
    send: (host) => call(host, 'runs.start', { method: 'sft', config: { dataset: 'shapez', steps: -5 } }),
    message: /^error \w+ \(id 1\): .*(shapez|steps)/,
  },
  // ── clients that misbehave ───────────────────────────────────────────────────────────────────
  {
    group,
    name: 'a client that stops reading',
    send: stopsReading,
    message: /^while one client stopped reading, another got ok: \[\{"id":1,"name":"shapes"/,
  },
  {
    group,
    name: '2,000 calls at once, and one among them',
    send: (host) => burst(host, 2000),
    message: /^2001 answers, 0 of them errors; the call among them listed 4 images$/,
    limit: 60,
  },
];
