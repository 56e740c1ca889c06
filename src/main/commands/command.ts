/** What every `vrft` command is made of, and the flag readers they share. */
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { Size } from '../../shared/boxes';
import { UserError } from '../../shared/errors';
import { oddFile } from '../data/formats/files';
import { locateJsonError } from '../data/jsonErrors';
import { damaged, openStore, workspaceDbPath, type Db } from '../store/db';

/** A mistake in how the command was called, or in a file it was given: one line, exit 2. */
export class UsageError extends Error {}

export type Flags = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  summary: string;
  usage: string;
  flags: Flags;
  /** How many positional arguments it takes (none unless said). */
  positionals?: number;
  run(values: Values, positionals: string[]): Promise<number>;
}

export function requiredString(values: Values, flag: string): string {
  const value = values[flag];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

/** A flag holding a whole number ≥ 0, or the fallback when it is absent. */
export function wholeNumber(values: Values, flag: string, fallback?: number): number {
  const raw = values[flag];
  if (raw === undefined && fallback !== undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0)
    throw new UsageError(`--${flag} wants a whole number, got "${String(raw)}"`);
  return n;
}

export function oneOf<T extends string>(
  values: Values,
  flag: string,
  allowed: readonly T[],
  fallback?: T,
): T {
  const value = values[flag] ?? fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new UsageError(
      `--${flag} must be one of ${allowed.join(', ')}${value === undefined ? '' : `, got "${String(value)}"`}`,
    );
  }
  return value as T;
}

export function sizeFlag(values: Values, flag: string): Size | undefined {
  const value = values[flag];
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^(\d+)x(\d+)$/i.exec(value) : null;
  if (!match || Number(match[1]) === 0 || Number(match[2]) === 0) {
    throw new UsageError(`--${flag} wants WIDTHxHEIGHT in pixels, e.g. 640x480; got "${String(value)}"`);
  }
  return { width: Number(match[1]), height: Number(match[2]) };
}

/** Reads a file a user named; a missing or unreadable file is a usage error naming it. */
export function readUserFile(file: string): string {
  // A named pipe or a device would block the read (or never end): say what it is instead.
  const problem = oddFile(file);
  if (problem) throw new UsageError(`${file} ${problem}: name the file itself`);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : (error as Error).message}`,
    );
  }
}

/** Parses JSON a user wrote, naming the file, line and column of a syntax error. */
export function parseUserJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const at = locateJsonError(text, error);
    const where = at ? ` at line ${at.line}, column ${at.column}` : '';
    const hint = /\bNaN\b|\bInfinity\b/.test(text) ? ' (NaN and Infinity are not JSON: write a number)' : '';
    return failFile(file, `not valid JSON${where}: ${at?.problem ?? (error as Error).message}${hint}`);
  }
}

export function failFile(file: string, problem: string): never {
  throw new UsageError(`${file}: ${problem}`);
}

/**
 * Runs `fn` on the workspace in `dataDir` and closes it after. A UserError (a bad file, a taken
 * name, a missing record) is the user's to fix: it becomes a one-line usage error, exit 2.
 */
export async function inWorkspace<T>(dataDir: string, fn: (db: Db) => T | Promise<T>): Promise<T> {
  const db = openStore(workspaceDbPath(dataDir));
  try {
    return await fn(db);
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw damaged(workspaceDbPath(dataDir), error) ?? error;
  } finally {
    db.close();
  }
}
