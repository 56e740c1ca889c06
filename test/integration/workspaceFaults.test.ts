/**
 * A damaged or shared workspace (issue 26, item 4): a cut-short or foreign file gives a clear
 * message and is left as it was; an upgrade backs the file up first; a second host on one
 * workspace is refused with who holds it; a trainer writing beside the app never surfaces
 * SQLITE_BUSY.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/main/host/index';
import {
  applyMigrations,
  backupPath,
  latestSchemaVersion,
  openStore,
  schemaVersion,
  StoreError,
  transaction,
  workspaceDbPath,
} from '../../src/main/store/db';
import { createDataset, listDatasets } from '../../src/main/store/datasets';
import { lockPath } from '../../src/main/store/lock';
import { migrations } from '../../src/main/store/migrations';
import { tallyFault } from '../fault-reporter';

let dir: string;
const hosts: RunningHost[] = [];
beforeEach(({ task }) => {
  tallyFault(task, { group: 'damaged or shared workspace', cases: 1 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-wsfaults-'));
});
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const file = () => workspaceDbPath(path.join(dir, 'data'));

/** A workspace with some pages in it, checkpointed into its main file and closed. */
function filledWorkspace(): string {
  const db = openStore(file());
  for (let i = 0; i < 200; i++) createDataset(db, { name: `dataset ${i}`, description: 'x'.repeat(500) });
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return file();
}

function openError(at: string): StoreError {
  try {
    openStore(at).close();
  } catch (error) {
    return error as StoreError;
  }
  throw new Error('it opened');
}

it('a workspace file cut short is refused at open, naming the file and what to do, and left as it was', () => {
  const at = filledWorkspace();
  truncateSync(at, Math.floor(readFileSync(at).length / 2));
  const before = sha(at);
  const error = openError(at);
  expect(error).toBeInstanceOf(StoreError);
  expect(error.message).toContain(`The workspace file ${at} is damaged: it is cut short`);
  expect(error.message).toMatch(/Restore it from a backup .* or choose another --data folder/);
  expect(sha(at)).toBe(before);
});

it('a file that is not a workspace (garbage, a zero-filled page) gets the same clear message', () => {
  mkdirSync(path.dirname(file()), { recursive: true });
  writeFileSync(file(), Buffer.concat([Buffer.from('this is not sqlite'), Buffer.alloc(8192, 7)]));
  const error = openError(file());
  expect(error.message).toMatch(/is damaged \(SQLITE_NOTADB/);
});

it('the CLI says the workspace is damaged in one line, exit 1, no stack trace', () => {
  const at = filledWorkspace();
  truncateSync(at, 4096 * 3);
  const result = spawnSync(process.execPath, ['bin/vrft.js', 'traces', '1', '--data', path.dirname(at)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/^vrft: The workspace file .* is damaged/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
});

it('a --data that names a file (or a folder under one) is refused naming the file, and the file is kept', async () => {
  const notes = path.join(dir, 'notes.txt');
  writeFileSync(notes, 'mine\n');
  for (const data of [notes, path.join(notes, 'sub')]) {
    expect(openError(workspaceDbPath(data)).message).toBe(
      `${notes} is a file, not a folder: the workspace (--data) must be a folder (vrft keeps vrft.sqlite and its runs there). Choose another folder.`,
    );
    await expect(
      startHost({ host: '127.0.0.1', port: 0, dataDir: data, rendererDir: dir, version: 't' }),
    ).rejects.toThrow(`${notes} is a file, not a folder`);
  }
  const cli = spawnSync(process.execPath, ['bin/vrft.js', 'traces', '1', '--data', notes], {
    encoding: 'utf8',
  });
  expect(cli.status).toBe(1);
  expect(cli.stderr).toMatch(/^vrft: .*notes\.txt is a file, not a folder/);
  expect(readFileSync(notes, 'utf8')).toBe('mine\n');
});

it('an upgrade backs the workspace up first; the copy opens in the old schema with its data', () => {
  mkdirSync(path.dirname(file()), { recursive: true });
  const old = new Database(file());
  applyMigrations(old, migrations.slice(0, 4));
  old.prepare("INSERT INTO dataset (name) VALUES ('kept')").run();
  old.close();
  const db = openStore(file());
  expect(schemaVersion(db)).toBe(latestSchemaVersion);
  db.close();
  const copy = new Database(backupPath(file(), 4), { readonly: true });
  expect(schemaVersion(copy)).toBe(4);
  expect(copy.prepare('SELECT name FROM dataset').all()).toEqual([{ name: 'kept' }]);
  copy.close();
});

async function host(): Promise<RunningHost> {
  const h = await startHost({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'data'),
    rendererDir: path.join(dir, 'renderer'),
    version: 'test',
    log: () => {},
    probeEngine: false,
  });
  hosts.push(h);
  return h;
}

it('a second host on one workspace is refused, told which process holds it and where; it opens once that one closes', async () => {
  const first = await host();
  const error = await host().catch((e: unknown) => e as Error);
  expect(error).toBeInstanceOf(StoreError);
  expect((error as Error).message).toContain(
    `is already open in another vrft: process ${process.pid} on ${os.hostname()} at http://127.0.0.1:${first.port}/`,
  );
  expect((error as Error).message).toContain('give this one another --data folder');
  await first.close();
  hosts.splice(hosts.indexOf(first), 1);
  expect(existsSync(lockPath(path.join(dir, 'data')))).toBe(false);
  await host();
});

it('a lock left by a process that is gone (killed) is taken over', async () => {
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeFileSync(
    lockPath(path.join(dir, 'data')),
    JSON.stringify({ pid: Number(gone.stdout), hostname: os.hostname(), startedAt: 0 }),
  );
  const h = await host();
  expect(JSON.parse(readFileSync(lockPath(path.join(dir, 'data')), 'utf8'))).toMatchObject({
    pid: process.pid,
    url: `http://127.0.0.1:${h.port}/`,
  });
});

it('a write that reads first waits for another process’s write instead of failing with SQLITE_BUSY', async () => {
  const db = openStore(file());
  createDataset(db, { name: 'a' });
  // Another process (a trainer) takes the write lock, holds it a while, commits.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const Database = require('better-sqlite3');
       const db = new Database(process.argv[1]);
       db.pragma('busy_timeout = 30000');
       db.exec('BEGIN IMMEDIATE');
       db.prepare("INSERT INTO dataset (name) VALUES ('from the trainer')").run();
       process.stdout.write('locked\\n');
       setTimeout(() => { db.exec('COMMIT'); db.close(); }, 800);`,
      file(),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  // Read, then write, in one transaction: a deferred one would fail with SQLITE_BUSY_SNAPSHOT.
  transaction(db, () => {
    const n = listDatasets(db).length;
    createDataset(db, { name: `after ${n}` });
  });
  await new Promise((resolve) => child.on('exit', resolve));
  expect(
    listDatasets(db)
      .map((d) => d.name)
      .sort(),
  ).toEqual(['a', 'after 2', 'from the trainer']);
  db.close();
});
