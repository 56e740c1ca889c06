/**
 * Opening a workspace's SQLite file: pragmas, the schema-version guard and migrations. Repositories
 * (one file per domain beside this one) are the only other place that writes SQL.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { migrations, type Migration } from './migrations';

export type Db = Database.Database;

/** Something wrong with the workspace file itself (too new, a failed migration). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export const latestSchemaVersion: number = newestVersion(migrations);

export function workspaceDbPath(dataDir: string): string {
  return join(dataDir, 'vrft.sqlite');
}

/**
 * How long a write waits for another connection's (a trainer's, the host's, a CLI command's)
 * before SQLite gives up with SQLITE_BUSY. Writes are short; the longest (an import's batch, a
 * migration) stay well under this.
 */
export const busyTimeoutMs = 30_000;

/**
 * Makes the workspace folder (and those above it) where it is missing. A file where the folder
 * would be is the user's: said plainly (mkdir's EEXIST / ENOTDIR name no cause).
 */
export function makeWorkspaceFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
    let inTheWay = dir;
    for (let at = dir; at !== dirname(at); at = dirname(at)) {
      if (existsSync(at) && !statSync(at).isDirectory()) inTheWay = at;
    }
    throw new StoreError(
      `${inTheWay} is a file, not a folder: the workspace (--data) must be a folder (vrft keeps ` +
        'vrft.sqlite and its runs there). Choose another folder.',
      { cause: err },
    );
  }
}

export function openStore(file: string): Db {
  if (file !== ':memory:') makeWorkspaceFolder(dirname(file));
  checkLength(file);
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw damaged(file, err) ?? err;
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // Checked before any pragma that writes (journal_mode rewrites the header), so an older build
    // pointed at a newer workspace leaves it exactly as it found it.
    const found = schemaVersion(db);
    if (found > latestSchemaVersion) {
      throw new StoreError(
        `This workspace (${file}) was written by a newer vrft (schema ${found}; this build knows ` +
          `up to ${latestSchemaVersion}). Upgrade vrft, or choose another --data folder.`,
      );
    }
    db.pragma('journal_mode = WAL');
    // better-sqlite3 builds default this to ON; said here so cascades never hinge on a build flag.
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    if (found > 0 && found < latestSchemaVersion && file !== ':memory:') backUp(db, file, found);
    applyMigrations(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw damaged(file, err) ?? err;
  }
}

/** The copy of a workspace made before migrating it from `version`. */
export const backupPath = (file: string, version: number) => `${file}.before-v${version + 1}.bak`;

/**
 * A consistent copy of the workspace before its schema changes (VACUUM INTO reads one snapshot).
 * The migration itself is one transaction, so a failure leaves the file as it was; the copy is
 * for the user who wants the old build's file back after a migration that succeeded.
 */
function backUp(db: Db, file: string, version: number): void {
  const copy = backupPath(file, version);
  rmSync(copy, { force: true });
  db.prepare('VACUUM INTO ?').run(copy);
}

/**
 * A file cut short (a copy interrupted, a disk that filled) is found at open instead of at the
 * first query that reaches a missing page: without a write-ahead log holding the rest, the file
 * must hold every page the header counts.
 */
function checkLength(file: string): void {
  if (file === ':memory:' || !existsSync(file)) return;
  const wal = `${file}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) return;
  // The header (sqlite.org/fileformat.html): page size at 16, change counter at 24, the page count
  // at 28, valid while the counter at 92 equals the one at 24. Read before SQLite parses a page.
  const header = Buffer.alloc(100);
  const fd = openSync(file, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 100 || header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return; // SQLite judges it
  const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16);
  const pages = header.readUInt32BE(28);
  if (header.readUInt32BE(92) !== header.readUInt32BE(24)) return;
  const size = statSync(file).size;
  if (size < pages * pageSize) {
    throw new StoreError(
      `The workspace file ${file} is damaged: it is cut short (${size} bytes of ${pages * pageSize}). ` +
        restoreAdvice(file),
    );
  }
}

const corruptCodes = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT_INDEX',
  'SQLITE_CORRUPT_VTAB',
]);

/**
 * A clear message for what SQLite says of the workspace file itself (damaged, disk full, read-only),
 * or undefined when `err` is something else. A failed write was rolled back: what was saved before
 * it is still there.
 */
export function damaged(file: string, err: unknown): StoreError | undefined {
  if (!(err instanceof Database.SqliteError)) return undefined;
  const code = err.code;
  if (corruptCodes.has(code)) {
    return new StoreError(
      `The workspace file ${file} is damaged (${code}: ${err.message}). ` + restoreAdvice(file),
      { cause: err },
    );
  }
  const kept = 'The write was undone; everything saved before it is intact.';
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_FSYNC') {
    return new StoreError(
      `Cannot write the workspace ${file}: the disk is full (${code}). ${kept} Free some space and retry.`,
      { cause: err },
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM') {
    return new StoreError(
      `Cannot write the workspace ${file}: it is read-only here (${code}). Nothing in it was changed. ` +
        'Make the folder writable, or choose another --data folder.',
      { cause: err },
    );
  }
  return undefined;
}

function restoreAdvice(file: string): string {
  return (
    'vrft wrote nothing to it. Restore it from a backup (vrft keeps a copy named ' +
    `${file.split(/[\\/]/).pop()}.before-v<N>.bak beside it before each upgrade), or choose another --data folder.`
  );
}

/** 0 for a file no migration has touched yet. */
export function schemaVersion(db: Db): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare('SELECT max(version) AS version FROM schema_version').get() as
    { version: number | null } | undefined;
  return row?.version ?? 0;
}

/**
 * Applies every migration newer than the file, all in one transaction: a workspace is either at
 * the old version or the new one, never half-migrated. Exported so tests can pass a list that
 * fails. Returns how many ran.
 */
export function applyMigrations(db: Db, list: readonly Migration[]): number {
  const newest = newestVersion(list);
  const run = db.transaction(() => {
    // Read inside the (immediate) transaction so two processes opening at once cannot both migrate.
    const current = schemaVersion(db);
    const pending = list.filter((m) => m.version > current);
    for (const m of pending) {
      try {
        db.exec(m.sql);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new StoreError(`Migration ${m.version} (${m.name}) failed: ${reason}`, {
          cause: err,
        });
      }
    }
    if (pending.length > 0) {
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(newest);
    }
    return pending.length;
  });
  return run.immediate();
}

/**
 * Runs `fn` in a transaction (a savepoint when nested); it commits only if `fn` returns. It takes
 * the write lock at BEGIN (IMMEDIATE): a deferred transaction that reads and then writes while
 * another connection has written fails with SQLITE_BUSY at once, without waiting the busy
 * timeout; an immediate one waits its turn.
 */
export function transaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement, compiled once per connection and reused. */
export function prepare<Row = unknown>(db: Db, sql: string): Database.Statement<unknown[], Row> {
  let cache = statements.get(db);
  if (cache === undefined) {
    cache = new Map();
    statements.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
  }
  return stmt as Database.Statement<unknown[], Row>;
}

/** True for a UNIQUE or PRIMARY KEY violation, which repositories turn into a 'conflict'. */
export function isUniqueViolation(err: unknown): boolean {
  return (
    err instanceof Database.SqliteError &&
    (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}

export function isForeignKeyViolation(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** JSON columns are TEXT; a row that fails to parse is a bug, not a user error. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

function newestVersion(list: readonly Migration[]): number {
  let newest = 0;
  for (const m of list) {
    if (m.version !== newest + 1) {
      throw new Error(`migrations must be numbered 1, 2, 3…; found ${m.version} after ${newest}`);
    }
    newest = m.version;
  }
  return newest;
}
