/**
 * Opening a workspace's SQLite file: pragmas, the schema-version guard and migrations. Repositories
 * (one file per domain beside this one) are the only other place that writes SQL.
 */
import { mkdirSync } from 'node:fs';
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

export function openStore(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 5000');
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
    applyMigrations(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
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

/** Runs `fn` in a transaction (a savepoint when nested); it commits only if `fn` returns. */
export function transaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)();
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
