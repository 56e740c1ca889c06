/**
 * One engine host per workspace. Two hosts on one folder would each run its queue, resume the same
 * interrupted runs and write the same checkpoints; the second one to start is refused, told which
 * process holds the workspace. The lock is a file beside the database holding the holder's pid,
 * machine and URL; one left by a process that is gone (killed, crashed) is taken over. CLI commands
 * and trainer processes do not take it: SQLite's WAL lets them write beside the host.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { StoreError } from './db';

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: number;
  /** Where the holder can be reached (the host's URL without its token), when it said. */
  url?: string;
}

export interface WorkspaceLock {
  /** Says where this holder can be reached, for the message a second host gets. */
  describe(url: string): void;
  release(): void;
}

export const lockPath = (dataDir: string) => join(dataDir, 'vrft.lock');

export function lockWorkspace(dataDir: string): WorkspaceLock {
  const file = lockPath(dataDir);
  const me: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: Date.now() };
  const write = (holder: LockHolder, flags: string) => {
    const fd = openSync(file, flags, 0o600);
    try {
      writeSync(fd, JSON.stringify(holder));
    } finally {
      closeSync(fd);
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      write(me, 'wx');
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(file, error);
      const holder = readHolder(file);
      if (holder && isAlive(holder)) throw heldError(dataDir, holder);
      // Left by a process that is gone: take it over.
      unlinkSync(file);
    }
  }
  let released = false;
  return {
    describe(url) {
      if (!released) write({ ...me, url }, 'w');
    },
    release() {
      if (released) return;
      released = true;
      // Only our own lock: never one a later host took over.
      if (readHolder(file)?.pid === me.pid) unlinkSync(file);
    },
  };
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return typeof holder.pid === 'number' ? holder : undefined;
  } catch {
    return undefined; // unreadable or half-written: nobody can be told to close it
  }
}

/** A holder on this machine whose process still runs; one on another machine is trusted. */
function isAlive(holder: LockHolder): boolean {
  if (holder.hostname !== os.hostname()) return true;
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function heldError(dataDir: string, holder: LockHolder): StoreError {
  const since = new Date(holder.startedAt).toISOString().replace('T', ' ').slice(0, 19);
  const where = holder.url ? ` at ${holder.url}` : '';
  return new StoreError(
    `This workspace (${dataDir}) is already open in another vrft: process ${holder.pid} on ` +
      `${holder.hostname}${where}, since ${since} UTC. Use that window, or close it first; to run ` +
      'both, give this one another --data folder.',
  );
}

function lockError(file: string, error: unknown): StoreError {
  return new StoreError(`Cannot lock the workspace (${file}): ${(error as Error).message}`, { cause: error });
}
