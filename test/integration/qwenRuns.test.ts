/**
 * A Qwen folder as a run's model, end to end through the CLI: GRPO with LoRA writes every rollout
 * to the store (vrft traces reads them) and saves a PEFT adapter folder; SFT with LoRA lowers the
 * loss on the tiny Qwen2.5-VL; the trained adapter folder is evaluated like any model.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { countRollouts } from '../../src/main/store/rollouts';
import { getRun, listCheckpoints, listMetrics } from '../../src/main/store/runs';
import { shapesWorkspace, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-qwen-runs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const checkpoint = (family: string) => path.resolve('test/fixtures/qwen', family, 'checkpoint');

function config(name: string, fields: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ dataset: 'shapes', ...fields }));
  return file;
}

describe('a Qwen2-VL folder trained with GRPO and LoRA', () => {
  let data: string;
  let run: ReturnType<typeof vrft>;
  beforeAll(() => {
    data = shapesWorkspace(path.join(dir, 'grpo'), 2);
    run = vrft(
      'train',
      '--method',
      'grpo',
      '--config',
      config('grpo', {
        model: checkpoint('qwen2-vl'),
        steps: 2,
        promptsPerStep: 2,
        numGenerations: 4,
        maxCompletionLength: 12,
        checkpointEvery: 1,
        lora: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] },
      }),
      '--data',
      data,
    );
  }, 200_000);

  it('completes, every rollout stored with its decoded completion and rewards', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/run 1: training GRPO for 2 steps/);
    const db = openStore(workspaceDbPath(data));
    try {
      expect(getRun(db, 1)).toMatchObject({ kind: 'grpo', status: 'completed', error: null });
      expect(countRollouts(db, 1)).toBe(2 * 2 * 4);
      for (const key of ['reward', 'kl', 'completions/mean_length'])
        expect(
          listMetrics(db, 1, key).map((m) => m.step),
          key,
        ).toEqual([1, 2]);
      expect(listCheckpoints(db, 1).map((c) => c.step)).toEqual([1, 2]);
    } finally {
      db.close();
    }
    const step = JSON.parse(vrft('traces', '1', '--step', '1', '--data', data, '--json').stdout) as {
      prompts: { promptKey: string; rollouts: number }[];
    };
    expect(step.prompts.map((p) => p.rollouts)).toEqual([4, 4]);
    const group = vrft(
      'traces',
      '1',
      '--step',
      '1',
      '--prompt',
      step.prompts[0]!.promptKey,
      '--data',
      data,
      '--json',
    );
    expect(group.code, group.stderr).toBe(0);
    const { rollouts } = JSON.parse(group.stdout) as { rollouts: { completion: string; reward: number }[] };
    expect(rollouts).toHaveLength(4);
    for (const r of rollouts) {
      expect(typeof r.completion).toBe('string');
      expect(Number.isFinite(r.reward)).toBe(true);
    }
  });

  it('saves the model as a PEFT adapter folder naming its base, with the targets asked for', () => {
    const model = path.join(data, 'runs', '1', 'model');
    const adapter = JSON.parse(readFileSync(path.join(model, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(adapter).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      base_model_name_or_path: checkpoint('qwen2-vl'),
    });
    expect(adapter.target_modules).toEqual(['q_proj', 'v_proj']);
  });
});

describe('a Qwen2.5-VL folder trained with SFT and LoRA, then evaluated', () => {
  let data: string;
  let run: ReturnType<typeof vrft>;
  beforeAll(() => {
    data = shapesWorkspace(path.join(dir, 'sft'), 2);
    run = vrft(
      'train',
      '--method',
      'sft',
      '--config',
      config('sft', {
        model: checkpoint('qwen2.5-vl'),
        steps: 6,
        batchSize: 2,
        learningRate: 0.02,
        lora: { r: 4, lora_alpha: 8 },
      }),
      '--data',
      data,
    );
  }, 200_000);

  it('lowers the loss', () => {
    expect(run.code, run.stderr).toBe(0);
    const db = openStore(workspaceDbPath(data));
    try {
      const losses = listMetrics(db, 1, 'loss').map((m) => m.value);
      expect(losses).toHaveLength(6);
      expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.5);
    } finally {
      db.close();
    }
  });

  it('evaluates the trained adapter folder, every answer stored', { timeout: 200_000 }, () => {
    const evaluation = vrft(
      'eval',
      '--model',
      path.join(data, 'runs', '1', 'model'),
      '--dataset',
      'shapes',
      '--max-new-tokens',
      '16',
      '--data',
      data,
      '--json',
    );
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const result = JSON.parse(evaluation.stdout) as { metrics: { answers: number; AP50: number } };
    expect(result.metrics.answers).toBeGreaterThan(0);
    expect(result.metrics.AP50).toBeGreaterThanOrEqual(0);
    const db = openStore(workspaceDbPath(data));
    try {
      expect(getRun(db, 2)).toMatchObject({ kind: 'eval', status: 'completed' });
      expect(getRun(db, 2)?.config.maxNewTokens).toBe(16);
    } finally {
      db.close();
    }
  });
});
