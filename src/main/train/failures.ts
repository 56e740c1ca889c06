/**
 * What to tell the user when a trainer fails: an exception it caught, or a process that died
 * (a V8 heap exhausted, a signal). Out of memory is named as such, with what to change and how
 * `vrft doctor` checks a model and config against the backend.
 */
import type { ChildProcess } from 'node:child_process';

const outOfMemory =
  /out of memory|\bOOM\b|Cannot allocate|allocation failed|Array buffer allocation|Reached heap limit/i;
const lowerMemory =
  'lower batchSize (or promptsPerStep / numGenerations / maxCompletionLength), or use LoRA; for a Qwen model ' +
  'turn on gradientCheckpointing (`vrft doctor --model DIR --config FILE` says what a step needs and what ' +
  'this backend has); and resume the run';

const diskFull = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
const readOnly = new Set(['EROFS', 'EACCES', 'EPERM', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED']);

/**
 * An exception the trainer caught. `where` is the workspace folder, named when the disk holding it
 * is full or read-only: the checkpoint being written is dropped whole, the last one stays.
 */
export function describeFailure(error: unknown, where?: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  const folder = where ? ` holding ${where}` : '';
  const resume = 'then resume the run: it continues from its last complete checkpoint.';
  if (typeof code === 'string' && diskFull.has(code)) {
    return `the disk${folder} is full (${code}): nothing half-written was kept; free some space, ${resume}`;
  }
  if (typeof code === 'string' && readOnly.has(code)) {
    return `cannot write the workspace${where ? ` ${where}` : ''}: it is read-only (${code}); make it writable, ${resume}`;
  }
  if (outOfMemory.test(message)) return `out of memory: ${message.split('\n')[0]} — ${lowerMemory}.`;
  return message;
}

/** A trainer process that exited without reporting how it finished. */
export function describeTrainerExit(code: number | null, signal: string | null, stderrTail: string): string {
  const last = stderrTail.trim().split('\n').filter(Boolean).at(-1) ?? '';
  if (outOfMemory.test(stderrTail)) {
    return `out of memory: the trainer's JavaScript heap ran out (${last.trim()}) — ${lowerMemory}.`;
  }
  if (signal === 'SIGKILL') {
    return `the trainer was killed (SIGKILL). If you did not kill it, the system ran out of memory (the kernel's OOM killer sends SIGKILL): ${lowerMemory}; it continues from its last checkpoint.`;
  }
  return `the trainer stopped unexpectedly (${signal ?? `exit ${code}`}); resume the run to continue from its last checkpoint.${last ? ` ${last}` : ''}`;
}

/**
 * Keeps the last 2,000 characters a trainer writes to stderr (each chunk is also passed to
 * `onChunk`), for describeTrainerExit; returns them when asked.
 */
export function stderrTail(child: ChildProcess, onChunk?: (chunk: Buffer) => void): () => string {
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    onChunk?.(chunk);
    tail = (tail + chunk.toString()).slice(-2000);
  });
  return () => tail;
}
