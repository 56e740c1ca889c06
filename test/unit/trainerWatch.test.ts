/**
 * A trainer that goes silent or does not stop when asked (issue 26, "network waits have timeouts
 * that produce a message"): the host says so as a run warning, takes it back when the trainer
 * speaks again, and a second pause or cancel ends the process with the state asked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { superviseRun } from '../../src/main/commands/runs';
import { JobSupervisor } from '../../src/main/host/jobs';
import { openStore, type Db } from '../../src/main/store/db';
import { createRun, getRun, listRunWarnings } from '../../src/main/store/runs';
import { TrainerWatch } from '../../src/main/train/watchdog';

/** A stand-in trainer: says it started, then `script` decides what else (never stops when asked). */
function fakeTrainer(dir: string, script: string): string {
  const file = path.join(dir, 'trainer.cjs');
  writeFileSync(
    file,
    `const runId = Number(process.argv[process.argv.indexOf('--run') + 1]);
process.send({ type: 'started', runId, kind: 'grpo', backend: 'fake', totalSteps: 9, fromStep: 0 });
process.on('message', () => {});
// Gone with the test that started it, however that test ended.
process.on('disconnect', () => process.exit(0));
setInterval(() => {}, 1000);
${script}
`,
  );
  return file;
}

interface Heard {
  event: string;
  payload: { runId: number; kind?: string; state?: string };
}

function until<T>(find: () => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const look = () => {
      const found = find();
      if (found !== undefined) resolve(found);
      else setTimeout(look, 20);
    };
    look();
  });
}

describe('the host watching its trainers', () => {
  let dir: string;
  let db: Db;
  let heard: Heard[];
  let runId: number;
  const supervisor = (script: string) =>
    new JobSupervisor(
      db,
      dir,
      () => fakeTrainer(dir, script),
      (event, payload) => heard.push({ event, payload: payload as Heard['payload'] }),
      () => {},
      { silentMs: 300, stopGraceMs: 300 },
    );
  const warned = (kind: string) =>
    until(() => heard.find((h) => h.event === 'job.warning' && h.payload.kind === kind));

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-watch-'));
    db = openStore(path.join(dir, 'vrft.sqlite'));
    runId = createRun(db, { kind: 'grpo', config: {} });
    heard = [];
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says a silent trainer may be stuck, and takes it back when the trainer speaks again', async () => {
    // It speaks again once the test has seen the warning (a file appears): no race with its start.
    const speak = path.join(dir, 'speak');
    const jobs = supervisor(
      `const poll = setInterval(() => { if (require('node:fs').existsSync(${JSON.stringify(speak)})) { clearInterval(poll); process.send({ type: 'progress', runId, step: 1, totalSteps: 9, metrics: {}, etaSeconds: null }); } }, 20);`,
    );
    const done = jobs.run(runId);
    await warned('trainer_silent');
    writeFileSync(speak, '');
    expect(listRunWarnings(db, runId)).toEqual([
      expect.objectContaining({
        kind: 'trainer_silent',
        message: expect.stringMatching(/silent for .*: stuck\? Pause, then resume/),
      }),
    ]);
    await warned('trainer_heard');
    expect(listRunWarnings(db, runId)).toEqual([]);
    jobs.stop(runId, 'cancel');
    jobs.stop(runId, 'cancel');
    expect(await done).toBe(false);
  });

  it('a trainer that does not stop when asked: the user hears of it, and a second cancel ends it', async () => {
    const jobs = supervisor('');
    const done = jobs.run(runId);
    await until(() => heard.find((h) => h.payload.state === 'running'));
    jobs.stop(runId, 'cancel');
    await warned('trainer_slow_stop');
    expect(listRunWarnings(db, runId).map((w) => w.kind)).toContain('trainer_slow_stop');
    expect(jobs.isRunning(runId)).toBe(true);
    jobs.stop(runId, 'cancel');
    await done;
    expect(getRun(db, runId)?.status).toBe('cancelled');
    expect(jobs.isRunning(runId)).toBe(false);
    // What the watch said was about the process that is gone.
    expect(listRunWarnings(db, runId)).toEqual([]);
  });

  it('a second pause ends the process and leaves the run paused, to resume from its checkpoint', async () => {
    const jobs = supervisor('');
    const done = jobs.run(runId);
    await until(() => heard.find((h) => h.payload.state === 'running'));
    jobs.stop(runId, 'pause');
    jobs.stop(runId, 'pause');
    await done;
    expect(getRun(db, runId)?.status).toBe('paused');
    expect(heard.filter((h) => h.event === 'job.state').at(-1)?.payload.state).toBe('paused');
  });
  it('a trainer ending after the host closed the workspace writes nothing there and throws nothing', async () => {
    const jobs = supervisor('');
    void jobs.run(runId);
    await until(() => heard.find((h) => h.payload.state === 'running'));
    jobs.stop(runId, 'pause');
    await warned('trainer_slow_stop');
    db.close(); // the host shutting down while its trainer is still stopping
    const gone = until(() => (jobs.isRunning(runId) ? undefined : true));
    jobs.stop(runId, 'pause'); // ends the process: its exit must not touch the closed store
    await gone;
  });
});

describe('vrft train watching its trainer', () => {
  it('says a silent trainer may be stuck; a second Ctrl+C ends a trainer that does not stop', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-watch-'));
    const said: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      const exit = superviseRun(1, dir, false, {
        trainer: fakeTrainer(dir, ''),
        watch: { silentMs: 200, stopGraceMs: 200 },
      });
      await until(() => said.find((l) => /said nothing for/.test(l)));
      process.emit('SIGINT');
      await until(() => said.find((l) => /has not stopped .* after Ctrl\+C/.test(l)));
      process.emit('SIGINT');
      expect(await exit).toBe(130);
      expect(said.join('')).toMatch(/ending the trainer now; resume with: vrft train --resume 1/);
      expect(process.listenerCount('SIGINT')).toBe(0);
    } finally {
      process.stderr.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TrainerWatch', () => {
  it('raises its bar to four times the longest gap it has seen', async () => {
    const said: string[] = [];
    const watch = new TrainerWatch(
      {
        silent: () => said.push('silent'),
        heard: () => said.push('heard'),
        slowToStop: () => said.push('slow'),
      },
      { silentMs: 50, stopGraceMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 120));
    expect(said).toEqual(['silent']);
    watch.heard(); // a gap of ≥120 ms: the bar is now ≥480 ms
    await new Promise((r) => setTimeout(r, 150));
    expect(said).toEqual(['silent', 'heard']);
    watch.close();
  });
});
