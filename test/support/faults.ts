/**
 * The fault suite's harness (issue 26): a case makes one bad input beside a workspace and names
 * the `vrft` command that meets it; the runner runs it in a copy of a baseline workspace and
 * sorts the outcome: a clean error (non-zero exit, one message naming what and where, no stack
 * trace), a crash, a hang (past the case's time limit), data lost (the workspace's rows or any
 * file in the case's folder changed), a process left behind, or accepted (it should have failed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface FaultContext {
  /** The case's own folder: make its bad files here. */
  dir: string;
  /** Its workspace (a copy of the baseline): pass it as --data. */
  data: string;
  /**
   * A workspace like the baseline that also holds a completed one-step SFT run (run 1), trained
   * once for the whole suite on first use: copy it, never change it.
   */
  trainedWorkspace(): Promise<string>;
}

export interface FaultCase {
  group: string;
  name: string;
  /** Makes the bad input; returns the arguments of `vrft` that meet it. */
  make(ctx: FaultContext): string[] | Promise<string[]>;
  /** What the message on stderr must say: what is wrong, and where. */
  message: RegExp;
  /** Seconds before the case counts as a hang (default 30). */
  limit?: number;
  /**
   * A bug the case finds that is not fixed yet: the suite expects it not to be clean (and counts
   * it in the totals) until it is; then remove this.
   */
  knownBug?: string;
}

export type Outcome = 'clean' | 'crash' | 'hang' | 'lost' | 'leftover' | 'accepted' | 'unclear';

export interface FaultResult {
  group: string;
  name: string;
  outcome: Outcome;
  detail: string;
}

/** Every user table's row count and every file under `dir` (the workspace's own files aside). */
export function snapshot(dir: string, data: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const db = new Database(path.join(data, 'vrft.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'rollout_text%'",
      )
      .all() as { name: string }[];
    for (const { name } of tables) {
      out[`rows ${name}`] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    }
  } finally {
    db.close();
  }
  // Names as bytes: a case may make a name that is not UTF-8, which a string cannot reopen.
  const walk = (sub: Buffer) => {
    const at = Buffer.concat([Buffer.from(`${dir}/`), sub]);
    for (const entry of readdirSync(at, { withFileTypes: true, encoding: 'buffer' })) {
      const rel = sub.length ? Buffer.concat([sub, Buffer.from('/'), entry.name]) : entry.name;
      const full = Buffer.concat([Buffer.from(`${dir}/`), rel]);
      const key = rel.toString('latin1');
      if (/^vrft\.(sqlite|lock)/.test(entry.name.toString()) && at.toString() === `${data}`) continue;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile())
        out[`file ${key}`] = createHash('sha256').update(readFileSync(full)).digest('hex');
      else {
        // A link (maybe looping or dangling), a pipe: what it is, never followed.
        let kind = 'other';
        try {
          kind = statSync(full).isFIFO() ? 'pipe' : 'link';
        } catch (error) {
          kind = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        }
        out[`other ${key}`] = kind;
      }
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

function differences(
  before: Record<string, string | number>,
  after: Record<string, string | number>,
): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).map((k) => `${k}: ${before[k]} → ${after[k]}`);
}

/** What changed in the case's folder and workspace since `before` (a workspace made unreadable too). */
export function changedSince(before: Record<string, string | number>, ctx: FaultContext): string[] {
  try {
    return differences(before, snapshot(ctx.dir, ctx.data));
  } catch (error) {
    return [`the workspace can no longer be read: ${String(error)}`];
  }
}

/**
 * Processes still running with the case's folder in their command line: the folder itself or a
 * path under it, never a sibling whose name starts the same (cases run side by side: import-1 is
 * not import-10).
 */
export function leftovers(dir: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const inDir = new RegExp(`${escaped}(/|\\s|$)`);
  return ps.stdout
    .split('\n')
    .filter((line) => inDir.test(line) && !line.includes('ps -eo'))
    .map((line) => line.trim());
}

/** Runs one case in `ctx` and sorts its outcome. */
export async function runFault(c: FaultCase, ctx: FaultContext): Promise<FaultResult> {
  const args = await c.make(ctx);
  const before = snapshot(ctx.dir, ctx.data);
  const limit = (c.limit ?? 30) * 1000;
  const child = spawn(process.execPath, ['bin/vrft.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, limit);
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  clearTimeout(timer);
  const result = (outcome: Outcome, detail: string): FaultResult => ({
    group: c.group,
    name: c.name,
    outcome,
    detail,
  });
  const message = stderr
    .split('\n')
    .filter((l) => l.startsWith('vrft: ') || l.startsWith('error'))
    .join(' | ');
  if (hung) return result('hang', `no answer in ${limit / 1000} s; stderr: ${stderr.slice(-300)}`);
  const left = leftovers(ctx.dir);
  if (left.length) return result('leftover', left.join('; '));
  const changed = changedSince(before, ctx);
  if (changed.length) return result('lost', changed.slice(0, 5).join('; '));
  if (code === 0) return result('accepted', `exit 0; stdout: ${stdout.slice(0, 300)}`);
  if (/\n\s+at [^\n]+:\d+:\d+/.test(stderr) || code === null) {
    return result('crash', `exit ${code}: ${stderr.slice(0, 500)}`);
  }
  if (!c.message.test(stderr)) return result('unclear', `exit ${code}: ${message || stderr.slice(0, 500)}`);
  return result('clean', message);
}
