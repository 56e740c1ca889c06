/**
 * Reading TRL output folders (vrft import-run): Python's JSON, older TRL's metric names, and
 * completions tables whose cells are conversations.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cellText,
  logHistoryMetrics,
  metricName,
  parsePythonJson,
  readTrlRun,
} from '../../src/main/scaleOut/importRun';

describe('parsePythonJson', () => {
  it('reads the NaN and Infinity Python writes, and leaves them alone inside strings', () => {
    const text = '{"a": NaN, "b": [Infinity, -Infinity, 1.5], "c": "NaN \\"Infinity\\"", "d": null}';
    expect(parsePythonJson(text)).toEqual({
      a: NaN,
      b: [Infinity, -Infinity, 1.5],
      c: 'NaN "Infinity"',
      d: null,
    });
  });

  it('still refuses what is not JSON', () => {
    expect(() => parsePythonJson('{"log_history": [')).toThrow();
  });
});

describe('metric names', () => {
  it('renames older TRL’s rewards/<fn> and completion_length, keeps TRL 1.x names', () => {
    expect(metricName('rewards/accuracy_reward')).toBe('rewards/accuracy_reward/mean');
    expect(metricName('completion_length')).toBe('completions/mean_length');
    for (const key of ['rewards/iou/mean', 'rewards/iou/std', 'reward', 'kl', 'clip_ratio/low_mean'])
      expect(metricName(key)).toBe(key);
  });

  it('keeps every number at its step, NaN included; skips the summary, nulls and strings', () => {
    const points = logHistoryMetrics([
      { step: 1, loss: NaN, reward: 0.5, kl: null, note: 'x' },
      { step: 2, completion_length: 12 },
      { step: 2, train_runtime: 10, train_loss: 0.1 },
      { loss: 3 },
    ]);
    expect(points).toEqual([
      { step: 1, key: 'loss', value: NaN },
      { step: 1, key: 'reward', value: 0.5 },
      { step: 2, key: 'completions/mean_length', value: 12 },
    ]);
  });
});

describe('cellText', () => {
  it('is the text of a string or of a conversation', () => {
    expect(cellText('plain')).toBe('plain');
    expect(
      cellText([
        {
          role: 'user',
          content: [
            { type: 'image', text: null },
            { type: 'text', text: 'Find it.' },
          ],
        },
        { role: 'assistant', content: 'There.' },
      ]),
    ).toBe('Find it.\nThere.');
    expect(cellText(3)).toBeUndefined();
  });
});

describe('readTrlRun on a table of conversations', () => {
  it('stores their text, keys groups by prompt text, and sums only the rewards given', async () => {
    const run = await readTrlRun(path.resolve('test/fixtures/trl-run/conversational'));
    expect(run.metrics).toEqual([
      { step: 1, key: 'reward', value: 0.6875 },
      { step: 1, key: 'loss', value: NaN },
    ]);
    expect(run.model).toBeNull();
    expect(run.checkpoints).toEqual([]);
    const rows = run.rollouts.map((r) => ({
      promptKey: r.promptKey,
      sampleIndex: r.sampleIndex,
      completion: r.completion,
      rewards: r.rewards,
      reward: r.reward,
      advantage: r.advantage,
    }));
    const first = 'Answer in boxes.\nFind shape 1.';
    const second = 'Answer in boxes.\nFind shape 2.';
    expect(rows).toEqual([
      {
        promptKey: first,
        sampleIndex: 0,
        completion: '<answer>[1,2,3,4]</answer>',
        rewards: { iou: 0.5, format: 1 },
        reward: 1.5,
        advantage: 0.7,
      },
      {
        promptKey: first,
        sampleIndex: 1,
        completion: 'no',
        rewards: { iou: 0, format: 0 },
        reward: 0,
        advantage: -0.7,
      },
      {
        promptKey: second,
        sampleIndex: 0,
        completion: '[5,6,7,8]',
        rewards: { iou: 0.25, format: 0 },
        reward: 0.25,
        advantage: 0.7,
      },
      // iou returned None for it: not scored, not counted.
      {
        promptKey: second,
        sampleIndex: 1,
        completion: '',
        rewards: { format: 0 },
        reward: 0,
        advantage: -0.7,
      },
    ]);
    expect(run.rollouts[0]!.prompt).toBe(first);
  });
});
