import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeFailure, describeTrainerExit } from '../../src/main/train/failures';

describe('trainer failures', () => {
  it('names an out-of-memory exception and says what to lower', () => {
    const wasm = new RangeError('Array buffer allocation failed');
    expect(describeFailure(wasm)).toMatch(
      /^out of memory: Array buffer allocation failed — lower batchSize.*resume the run\.$/,
    );
    // TensorFlow's own on a GPU: the advice names doctor and, for Qwen, gradientCheckpointing.
    const gpu = new Error('OOM when allocating tensor with shape[8,12,706,706] and type float');
    expect(describeFailure(gpu)).toMatch(/^out of memory: OOM when allocating tensor/);
    expect(describeFailure(gpu)).toContain('for a Qwen model turn on gradientCheckpointing');
    expect(describeFailure(gpu)).toContain('`vrft doctor --model DIR --config FILE`');
    expect(describeFailure(new Error('shapes [2,3] and [4] do not match'))).toBe(
      'shapes [2,3] and [4] do not match',
    );
  });

  it('recognises a real V8 heap exhaustion from the dead process’s stderr', () => {
    // A Node process with a 24 MB heap that keeps allocating: what a trainer hitting its heap
    // limit prints and how it exits.
    const child = spawnSync(
      process.execPath,
      ['--max-old-space-size=24', '-e', 'const a = []; for (;;) a.push(new Array(1e5).fill(1.5));'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.status === 0).toBe(false);
    const message = describeTrainerExit(child.status, child.signal, child.stderr);
    expect(message).toMatch(/^out of memory: the trainer's JavaScript heap ran out \(.*\) — lower batchSize/);
  });

  it('says a SIGKILL may be the OOM killer, and any other exit how it ended', () => {
    expect(describeTrainerExit(null, 'SIGKILL', '')).toMatch(/killed \(SIGKILL\).*OOM killer/);
    expect(describeTrainerExit(3, null, 'first\nError: disk full\n')).toBe(
      'the trainer stopped unexpectedly (exit 3); resume the run to continue from its last checkpoint. Error: disk full',
    );
  });
});
