/**
 * Runs from the command line: create a run row after checking what it names, run it in a trainer
 * process, and show its progress (a bar on a TTY, plain lines otherwise). Progress, warnings and
 * the trainer's own output go to stderr, so that stdout holds only what a command prints as its
 * result (one JSON document with --json).
 */
import { fork } from 'node:child_process';
import { UserError } from '../../shared/errors';
import type { Db } from '../store/db';
import { describeTrainerExit, stderrTail } from '../train/failures';
import { trainerScript } from '../train/runFiles';
import type { TrainerMessage } from '../train/jobs';
import { spoken, TrainerWatch, type WatchOptions } from '../train/watchdog';
import { UsageError } from './command';
import { createCheckedRun as createCheckedRunService, type RunRequest } from '../train/createRun';

function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '…';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Runs the trainer process for a run and shows its progress; resolves with the exit code (130
 * when a second Ctrl+C ended the trainer). `trainer` and `watch` are for tests.
 */
export function superviseRun(
  runId: number,
  dataDir: string,
  resume: boolean,
  {
    trainer = trainerScript(import.meta.url),
    watch: watchOptions,
  }: { trainer?: string; watch?: WatchOptions } = {},
): Promise<number> {
  const child = fork(trainer, ['--run', String(runId), '--data', dataDir, ...(resume ? ['--resume'] : [])], {
    stdio: ['inherit', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  // Passed through, and its tail kept to tell a crash (out of memory) from other exits.
  const stderr = stderrTail(child, (chunk) => process.stderr.write(chunk));
  const progress = process.stderr;
  const tty = progress.isTTY;
  let lastLine = 0;
  let step = 0;
  const watch = new TrainerWatch(
    {
      silent: (ms) =>
        progress.write(
          `${tty ? '\n' : ''}warning: the trainer has said nothing for ${spoken(ms)} (step ${step}); ` +
            'it may be stuck: press Ctrl+C to stop it, then resume\n',
        ),
      heard: () => progress.write(`${tty ? '\n' : ''}the trainer answers again\n`),
      slowToStop: (ms) =>
        progress.write(
          `${tty ? '\n' : ''}the trainer has not stopped ${spoken(ms)} after Ctrl+C (it may be writing a checkpoint); ` +
            'press Ctrl+C again to end it now\n',
        ),
    },
    watchOptions,
  );
  // The first Ctrl+C asks for a checkpoint and a clean stop; a second one ends the trainer now.
  let ended = false;
  const interrupt = () => {
    if (watch.stopping) {
      ended = true;
      progress.write(`\nending the trainer now; resume with: vrft train --resume ${runId}\n`);
      child.kill('SIGKILL');
      return;
    }
    progress.write(`\nstopping at the next step (Ctrl+C again to end it now)\n`);
    child.send({ type: 'stop' });
    watch.stopAsked();
  };
  process.on('SIGINT', interrupt);
  return new Promise((resolve) => {
    let outcome = 1;
    let finished = false;
    child.on('message', (m: TrainerMessage) => {
      watch.heard();
      if (m.type === 'progress') step = m.step;
      if (m.type === 'started') {
        const from = m.fromStep ? `, resuming at step ${m.fromStep}` : '';
        const what =
          m.kind === 'eval'
            ? `evaluating (${m.totalSteps} answers)`
            : `training ${m.kind.toUpperCase()} for ${m.totalSteps} steps`;
        progress.write(`run ${m.runId}: ${what} on ${m.backend}${from}\n`);
      } else if (m.type === 'progress') {
        const reward = m.metrics.reward === undefined ? '' : `  reward ${m.metrics.reward.toFixed(3)}`;
        const training = m.metrics.loss !== undefined;
        const line = training
          ? `step ${m.step}/${m.totalSteps}${reward}  loss ${m.metrics.loss!.toFixed(4)}  lr ${m.metrics.learning_rate?.toExponential(2)}  eta ${formatDuration(m.etaSeconds)}`
          : `answered ${m.step}/${m.totalSteps}  eta ${formatDuration(m.etaSeconds)}`;
        if (tty) {
          const width = 24;
          const filled = Math.round((width * m.step) / m.totalSteps);
          progress.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `);
        } else if (
          m.step - lastLine >= Math.max(1, Math.floor(m.totalSteps / 20)) ||
          m.step === m.totalSteps
        ) {
          progress.write(`${line}\n`);
          lastLine = m.step;
        }
      } else if (m.type === 'warning') {
        progress.write(`${tty ? '\n' : ''}warning: ${m.message}\n`);
      } else if (m.type === 'finished') {
        if (tty) progress.write('\n');
        progress.write(`run ${m.runId}: ${m.status}${m.error ? `: ${m.error}` : ''}\n`);
        if (m.status === 'cancelled') progress.write(`resume it with: vrft train --resume ${m.runId}\n`);
        outcome = m.status === 'failed' ? 1 : 0;
        finished = true;
      }
    });
    child.on('exit', (code, signal) => {
      watch.close();
      process.off('SIGINT', interrupt);
      if (ended && !finished) return resolve(130);
      if (!finished && (signal || code !== 0))
        process.stderr.write(
          `vrft: ${describeTrainerExit(code, signal, stderr())}\nresume with: vrft train --resume ${runId}\n`,
        );
      resolve(signal ? 1 : code === 0 ? outcome : (code ?? 1));
    });
  });
}

export { type RunRequest } from '../train/createRun';

/** createRun for the command line: what it names is checked, a problem is one usage line. */
export function createCheckedRun(db: Db, request: RunRequest, source: string): number {
  try {
    return createCheckedRunService(db, request, source);
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }
}
