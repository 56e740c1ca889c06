/**
 * The engine host's job supervisor: each training or evaluation run in its own trainer process,
 * started, paused, resumed and cancelled through the contract, its progress and state pushed to
 * every client as events. A trainer that dies without saying so (a kill, a native crash) leaves
 * its run failed with a message that says how to continue; nothing it had saved is lost. One that
 * goes silent, or does not stop when asked, is reported as a run warning (`TrainerWatch`); a
 * second pause or cancel then ends its process, and the run resumes from its last checkpoint.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { UserError } from '../../shared/errors';
import type { EventName, EventPayload } from '../../shared/contract';
import type { Db } from '../store/db';
import { addRunWarning, dropRunWarning, getRun, setRunStatus } from '../store/runs';
import { describeTrainerExit, stderrTail } from '../train/failures';
import type { TrainerMessage, TrainerRequest } from '../train/jobs';
import { spoken, TrainerWatch, type WatchOptions } from '../train/watchdog';

export type Broadcast = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export class JobSupervisor {
  private readonly running = new Map<number, ChildProcess>();
  private readonly watches = new Map<number, TrainerWatch>();
  /** Runs whose process was ended on purpose, with the state that exit means (not a failure). */
  private readonly killed = new Map<number, 'paused' | 'cancelled'>();
  /** Who waits for a run to end (an experiment driving its runs), resolved with its last state. */
  private readonly waiting = new Map<number, ((state: string) => void)[]>();

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    private readonly trainer: () => string,
    private readonly broadcast: Broadcast,
    private readonly log: (line: string) => void = () => {},
    private readonly watch: WatchOptions = {},
  ) {}

  isRunning(runId: number): boolean {
    return this.running.has(runId);
  }

  /** Starts a run and resolves when its trainer has finished with it: true when it completed. */
  run(runId: number): Promise<boolean> {
    const done = new Promise<boolean>((resolve) =>
      this.waiting.set(runId, [
        ...(this.waiting.get(runId) ?? []),
        (state) => resolve(state === 'completed'),
      ]),
    );
    try {
      this.start(runId);
    } catch (error) {
      this.waiting.delete(runId);
      throw error;
    }
    return done;
  }

  private ended(runId: number, state: string): void {
    const waiters = this.waiting.get(runId) ?? [];
    this.waiting.delete(runId);
    for (const resolve of waiters) resolve(state);
  }

  start(runId: number, resume = false): void {
    if (this.running.has(runId)) throw new UserError('conflict', `Run ${runId} is already running.`);
    const child = fork(
      this.trainer(),
      ['--run', String(runId), '--data', this.dataDir, ...(resume ? ['--resume'] : [])],
      {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      },
    );
    let finished = false;
    let step = 0;
    const stderr = stderrTail(child);
    this.running.set(runId, child);
    /** The watch's warnings on this run, taken back once they no longer hold. */
    const raised = new Set<string>();
    const warn = (kind: string, message: string) => {
      raised.add(kind);
      addRunWarning(this.db, runId, { kind, step, message });
      this.broadcast('job.warning', { runId, kind, message });
    };
    const takeBack = (kind: string) => {
      // The host may have closed the workspace already (a trainer that outlived its shutdown).
      if (!raised.delete(kind) || !this.db.open) return;
      dropRunWarning(this.db, runId, kind);
    };
    const watch = new TrainerWatch(
      {
        silent: (ms) => {
          this.log(`run ${runId}: no word from its trainer for ${spoken(ms)}`);
          warn(
            'trainer_silent',
            `Trainer silent for ${spoken(ms)} (step ${step}): stuck? Pause, then resume the run.`,
          );
        },
        heard: () => {
          takeBack('trainer_silent');
          this.broadcast('job.warning', {
            runId,
            kind: 'trainer_heard',
            message: 'The trainer answers again.',
          });
        },
        slowToStop: (ms) =>
          warn(
            'trainer_slow_stop',
            `Not stopped ${spoken(ms)} after being asked (still saving?). Pause or cancel again to end it now.`,
          ),
      },
      this.watch,
    );
    this.watches.set(runId, watch);
    this.broadcast('job.state', { runId, state: 'queued', error: null });
    child.on('message', (m: TrainerMessage) => {
      watch.heard();
      if (m.type === 'progress') step = m.step;
      if (m.type === 'started') this.broadcast('job.state', { runId, state: 'running', error: null });
      else if (m.type === 'progress') {
        this.broadcast('job.progress', {
          runId,
          step: m.step,
          totalSteps: m.totalSteps,
          metrics: m.metrics,
          etaSeconds: m.etaSeconds,
        });
      } else if (m.type === 'warning') {
        this.broadcast('job.warning', { runId, kind: m.kind, message: m.message });
      } else if (m.type === 'finished') {
        // Done training, though the process may take a moment to exit: no longer "running".
        finished = true;
        watch.close();
        if (this.running.get(runId) === child) this.running.delete(runId);
        this.broadcast('job.state', { runId, state: m.status, error: m.error });
        this.ended(runId, m.status);
      }
    });
    child.on('exit', (code, signal) => {
      watch.close();
      if (this.watches.get(runId) === watch) this.watches.delete(runId);
      if (this.running.get(runId) === child) this.running.delete(runId);
      // What the watch said was about this process: stale once it is gone.
      takeBack('trainer_silent');
      takeBack('trainer_slow_stop');
      // After the host closed the workspace (a trainer slower to stop than its shutdown) the
      // trainer has recorded its own state: nothing is left to write here.
      if (finished || !this.db.open) return;
      const meant = this.killed.get(runId);
      if (meant) {
        this.killed.delete(runId);
        setRunStatus(this.db, runId, meant);
        this.broadcast('job.state', { runId, state: meant, error: null });
        this.ended(runId, meant);
        return;
      }
      const error = describeTrainerExit(code, signal, stderr());
      this.log(`run ${runId}: ${error}`);
      setRunStatus(this.db, runId, 'failed', error);
      this.broadcast('job.state', { runId, state: 'failed', error });
      this.ended(runId, 'failed');
    });
  }

  /** Asks the trainer to checkpoint and stop; the run becomes paused or cancelled. */
  stop(runId: number, reason: 'pause' | 'cancel'): void {
    const child = this.running.get(runId);
    // An evaluation answers in one synchronous pass (it never reads the stop message) and has no
    // checkpoint to keep: cancelling it ends its process.
    if (child && reason === 'cancel' && getRun(this.db, runId)?.kind === 'eval') {
      this.killed.set(runId, 'cancelled');
      child.kill('SIGKILL');
      return;
    }
    const watch = this.watches.get(runId);
    // Asked twice: the trainer did not stop at its next step (stuck, or a step that never ends).
    // Its process is ended; the run keeps its last checkpoint and resumes from there.
    if (child && watch?.stopping) {
      this.killed.set(runId, reason === 'pause' ? 'paused' : 'cancelled');
      child.kill('SIGKILL');
      return;
    }
    if (child?.connected) {
      child.send({ type: 'stop', reason } satisfies TrainerRequest);
      watch?.stopAsked();
      return;
    }
    const run = getRun(this.db, runId);
    if (!run) throw new UserError('not_found', `Run ${runId} does not exist.`);
    // A run training on a cluster has no process here: cancelling it stops recording it (TRL, if
    // it still trains, fails at its next reward), and closes a run whose trainer died unheard.
    const elsewhere = run.status === 'running' && run.config.scaleOut !== undefined;
    if (
      reason === 'cancel' &&
      (run.status === 'paused' || run.status === 'queued' || run.status === 'failed' || elsewhere)
    ) {
      setRunStatus(this.db, runId, 'cancelled');
      this.broadcast('job.state', { runId, state: 'cancelled', error: null });
      this.ended(runId, 'cancelled');
      return;
    }
    throw new UserError('conflict', `Run ${runId} is ${run.status}, not running.`);
  }

  resume(runId: number): void {
    const run = getRun(this.db, runId);
    if (!run) throw new UserError('not_found', `Run ${runId} does not exist.`);
    if (run.status === 'completed' || run.status === 'cancelled')
      throw new UserError('conflict', `Run ${runId} is ${run.status}; start a new one.`);
    this.start(runId, true);
  }

  /** On shutdown: every trainer checkpoints and pauses. */
  async stopAll(): Promise<void> {
    const exits = [...this.running.values()].map(
      (child) => new Promise((resolve) => child.once('exit', resolve)),
    );
    for (const child of this.running.values())
      child.send({ type: 'stop', reason: 'pause' } satisfies TrainerRequest);
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
}
