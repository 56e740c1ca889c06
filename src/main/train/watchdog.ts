/**
 * Watching a trainer process from its parent (the engine host, or `vrft train`): a trainer that
 * goes silent, or does not stop when asked, is said so in words instead of leaving the user
 * before a progress bar that no longer moves. Nothing here kills: the user decides (a second
 * stop or cancel ends the process; the run resumes from its last checkpoint).
 */

export interface WatchOptions {
  /**
   * Silence (no message at all) that counts as stalled, at the least. The bar rises to four
   * times the longest gap seen so far, so a model whose steps take 20 minutes is not flagged
   * for taking 20 minutes. Default 15 minutes.
   */
  silentMs?: number;
  /** How long a trainer may take to stop once asked before the user hears of it. Default 60 s. */
  stopGraceMs?: number;
}

export const defaultWatch: Required<WatchOptions> = { silentMs: 15 * 60_000, stopGraceMs: 60_000 };

export interface WatchEvents {
  /** The trainer has said nothing for `silentMs` (once per silence). */
  silent(silentMs: number): void;
  /** It heard again after `silent` was raised. */
  heard(): void;
  /** It has not exited `graceMs` after a stop was asked. */
  slowToStop(graceMs: number): void;
}

export class TrainerWatch {
  private readonly options: Required<WatchOptions>;
  private last = Date.now();
  private longestGap = 0;
  private silentTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private raised = false;
  private closed = false;

  constructor(
    private readonly events: WatchEvents,
    options: WatchOptions = {},
  ) {
    this.options = { ...defaultWatch, ...options };
    this.arm();
  }

  /** The trainer said something (any message). */
  heard(): void {
    if (this.closed) return;
    const now = Date.now();
    this.longestGap = Math.max(this.longestGap, now - this.last);
    this.last = now;
    if (this.raised) {
      this.raised = false;
      this.events.heard();
    }
    this.arm();
  }

  /** A stop (pause or cancel) was sent: the first one starts the grace period. */
  stopAsked(): void {
    if (this.closed || this.stopTimer) return;
    const grace = this.options.stopGraceMs;
    this.stopTimer = setTimeout(() => this.events.slowToStop(grace), grace);
    this.stopTimer.unref();
  }

  /** Whether a stop was already asked (a second one ends the process). */
  get stopping(): boolean {
    return this.stopTimer !== undefined;
  }

  /** The process is gone (or finished): no more timers. */
  close(): void {
    this.closed = true;
    clearTimeout(this.silentTimer);
    clearTimeout(this.stopTimer);
  }

  private arm(): void {
    clearTimeout(this.silentTimer);
    const bar = Math.max(this.options.silentMs, 4 * this.longestGap);
    this.silentTimer = setTimeout(() => {
      this.raised = true;
      this.events.silent(Date.now() - this.last);
    }, bar);
    this.silentTimer.unref();
  }
}

/** "3 min", "45 s": how long, for a message. */
export function spoken(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${(m / 60).toFixed(1)} h`;
}
