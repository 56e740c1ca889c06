import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationFigures } from '../../src/main/commands/compare';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { latestEvaluationOfRun } from '../../src/main/store/evaluations';
import { countRollouts } from '../../src/main/store/rollouts';
import { getRun, listMetrics } from '../../src/main/store/runs';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-experiment-'));
const model = path.join(dir, 'model');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => saveTinyModel(model));

function workspace(name: string): string {
  return shapesWorkspace(path.join(dir, name), 12, 5);
}

describe('vrft experiment', { timeout: 180_000 }, () => {
  it('evaluates the base, trains SFT and GRPO on one k-shot split, evaluates both, and tabulates', () => {
    const data = workspace('ws-exp');
    const { code, stdout, stderr } = vrft(
      'experiment',
      '--dataset',
      'shapes',
      '--shots',
      '1',
      '--seed',
      '2',
      '--steps',
      '3',
      '--base',
      model,
      '--data',
      data,
      '--json',
    );
    expect(code, stderr).toBe(0);
    // stdout is exactly one JSON document; the split, the runs' progress and ETAs went to stderr.
    expect(stderr).toMatch(/^experiment on "shapes"/m);
    expect(stderr).toMatch(/^step 3\/3 /m);
    const result = JSON.parse(stdout) as {
      trainSplit: string;
      evalSplit: string;
      runs: { base: number; sft: number; rft: number };
      comparison: {
        columns: { label: string }[];
        categories: Record<string, Record<string, { ap50: number }>>;
        intervals: { from: string; to: string; level: number; resamples: number; images: number }[];
      };
    };
    expect(result.comparison.columns.map((c) => c.label)).toEqual(['base', 'SFT', 'RFT']);
    expect(result.trainSplit).toBe('1-shot-seed2');
    // RFT against each of the others: base, then SFT.
    expect(result.comparison.intervals.map((i) => `${i.to}−${i.from}`)).toEqual(['RFT−base', 'RFT−SFT']);
    expect(result.comparison.intervals[0]).toMatchObject({
      from: 'base',
      to: 'RFT',
      level: 0.95,
      resamples: 1000,
    });
    const db = openStore(workspaceDbPath(data));
    try {
      const sft = getRun(db, result.runs.sft)!;
      const rft = getRun(db, result.runs.rft)!;
      expect([sft.kind, rft.kind, sft.status, rft.status]).toEqual(['sft', 'grpo', 'completed', 'completed']);
      expect(sft.splitId).toBe(rft.splitId); // the same split, the same budget
      expect(sft.config.steps).toBe(rft.config.steps);
      // SFT learns the empty thinking tags it is asked to write; GRPO asks positive questions only.
      expect([sft.config.trainThink, rft.config.negativeShare]).toEqual([true, 0]);
      const asked = db
        .prepare(
          `SELECT r.prompt, (SELECT group_concat(c.name) FROM annotation a JOIN category c ON c.id = a.category_id
             WHERE a.image_id = r.image_id) AS present FROM rollout r WHERE r.run_id = ?`,
        )
        .all(rft.id) as { prompt: string; present: string | null }[];
      for (const { prompt, present } of asked) {
        const category = /^Find every (\w+)\.$/.exec(prompt)?.[1];
        expect(present?.split(','), prompt).toContain(category);
      }
      // Every rollout of every step: 3 steps × 2 prompts × 8 samples.
      expect(countRollouts(db, rft.id)).toBe(48);
      expect(listMetrics(db, rft.id, 'reward')).toHaveLength(3);
      for (const id of [result.runs.base, sft.id, rft.id]) {
        const e = latestEvaluationOfRun(db, id)!;
        expect(e.metrics).toHaveProperty('AP50');
        // Every category in use asked of every evaluation image: only the novel shapes here.
        expect(Object.keys(e.perCategory).sort()).toEqual(['arrow', 'diamond', 'heart', 'hexagon', 'ring']);
        // Every question's answer is stored: its boxes with their scores, or one row without a box.
        const questions = db
          .prepare(
            `SELECT image_id, category_id, count(*) AS rows, sum(x1 IS NULL) AS empty,
               sum(x1 IS NOT NULL AND score IS NULL) AS unscored, min(length(completion)) AS text
             FROM prediction WHERE evaluation_id = ? GROUP BY image_id, category_id`,
          )
          .all(e.id) as { rows: number; empty: number; unscored: number; text: number }[];
        expect(questions).toHaveLength(e.metrics.answers as number);
        for (const q of questions) {
          expect(q.empty === 0 || q.rows === 1).toBe(true);
          expect([q.unscored, q.text > 0]).toEqual([0, true]);
        }
        // The bootstrap reads the stored predictions back: its identity draw is the evaluation itself.
        const { imageIds, figures } = evaluationFigures(db, e)!;
        expect(imageIds).toHaveLength(result.comparison.intervals[0]!.images);
        const own = figures(imageIds.map((_, i) => i));
        expect(own.mean).toBeCloseTo(e.metrics.AP50!, 12);
        for (const [name, c] of Object.entries(e.perCategory))
          expect(own.categories[name], name).toBeCloseTo(c.ap50!, 12);
      }
    } finally {
      db.close();
    }
    const compared = vrft('compare', String(result.runs.sft), String(result.runs.rft), '--data', data);
    expect(compared.code).toBe(0);
    expect(compared.stdout).toMatch(/^category\s+sft \d+\s+grpo \d+\s+Δ/m);
    expect(compared.stdout).toMatch(/^all +.*\[[-+]\d+\.\d, [-+]\d+\.\d\]$/m);
    expect(compared.stdout).toMatch(
      /^Δ grpo \d+−sft \d+ AP50: [-+]\d+\.\d to [-+]\d+\.\d \(95 % paired bootstrap interval over the \d+ evaluation images, 1000 draws\), (ex|in)cludes 0$/m,
    );
    const plain = vrft(
      'compare',
      String(result.runs.sft),
      String(result.runs.rft),
      '--resamples',
      '0',
      '--data',
      data,
    );
    expect(plain.stdout).not.toMatch(/bootstrap|\[[-+]/);
    expect(vrft('compare', '1', '2', '--resamples', 'many', '--data', data).stderr).toMatch(
      /--resamples wants a whole number/,
    );
    expect(vrft('compare', '999', '1', '--data', data).code).toBe(2);
    // compare and eval with --json: one document on stdout, whatever the trainer printed.
    const comparedJson = vrft(
      'compare',
      String(result.runs.sft),
      String(result.runs.rft),
      '--data',
      data,
      '--json',
    );
    expect(JSON.parse(comparedJson.stdout)).toMatchObject({ columns: [{ runId: result.runs.sft }, {}] });
    const evalJson = vrft('eval', '--run', String(result.runs.sft), '--data', data, '--json');
    expect(evalJson.code, evalJson.stderr).toBe(0);
    expect(evalJson.stderr).toMatch(/^run \d+: evaluating/m);
    expect(JSON.parse(evalJson.stdout)).toHaveProperty('metrics.AP50');
    const again = vrft('eval', '--run', String(result.runs.rft), '--data', data);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^AP \d\.\d{3} +AP50/m);
    // RFT's newest evaluation is now of its training split: nothing to pair with SFT's.
    const onTrain = vrft(
      'eval',
      '--run',
      String(result.runs.rft),
      '--split',
      result.trainSplit,
      '--data',
      data,
    );
    expect(onTrain.code, onTrain.stderr).toBe(0);
    const unpaired = vrft('compare', String(result.runs.sft), String(result.runs.rft), '--data', data);
    expect(unpaired.stdout).toMatch(
      /^no interval for Δ grpo \d+−sft \d+: the two evaluations did not ask the same questions/m,
    );
  });

  it('runs the classification task the same way, reporting accuracy per category', () => {
    const data = path.join(dir, 'ws-cls');
    const synth = vrft(
      'synth',
      '--task',
      'classification',
      '--images',
      '12',
      '--seed',
      '4',
      '--size',
      '64',
      '--split',
      'novel',
      '--out',
      path.join(data, 'sw'),
      '--dataset',
      'cls',
      '--data',
      data,
    );
    expect(synth.code, synth.stderr).toBe(0);
    const { code, stdout, stderr } = vrft(
      'experiment',
      '--dataset',
      'cls',
      '--shots',
      '1',
      '--steps',
      '2',
      '--task',
      'classification',
      '--base',
      model,
      '--data',
      data,
      '--json',
    );
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as {
      runs: { rft: number };
      comparison: { metric: string; intervals: object[] };
    };
    expect(result.comparison.metric).toBe('classification');
    const db = openStore(workspaceDbPath(data));
    try {
      const e = latestEvaluationOfRun(db, result.runs.rft)!;
      expect(e.metrics).toHaveProperty('accuracy');
      const { imageIds, figures } = evaluationFigures(db, e)!;
      expect(imageIds).toHaveLength(e.metrics.answers!);
      expect(figures(imageIds.map((_, i) => i)).mean).toBeCloseTo(e.metrics.accuracy!, 12);
      expect(result.comparison.intervals[0]).toMatchObject({
        from: 'base',
        to: 'RFT',
        images: imageIds.length,
      });
      expect(Object.values(e.perCategory).every((c) => typeof c.accuracy === 'number')).toBe(true);
      // GRPO scored every sample with the classification rewards.
      expect(listMetrics(db, result.runs.rft, 'rewards/accuracy/mean')).toHaveLength(2);
    } finally {
      db.close();
    }
  });

  it('a GRPO run killed mid-run resumes with every step logged once', async () => {
    const data = workspace('ws-kill');
    const config = path.join(dir, 'grpo.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataset: 'shapes',
        model,
        steps: 12,
        promptsPerStep: 2,
        numGenerations: 4,
        maxCompletionLength: 40,
        checkpointEvery: 3,
        learningRate: 1e-3,
      }),
    );
    const cli = spawn(process.execPath, [
      'bin/vrft.js',
      'train',
      '--method',
      'grpo',
      '--config',
      config,
      '--data',
      data,
    ]);
    const exited = new Promise((resolve) => cli.on('exit', resolve));
    const db = openStore(workspaceDbPath(data));
    await expect
      .poll(() => listMetrics(db, 1, 'reward').length, { timeout: 60_000, interval: 20 })
      .toBeGreaterThanOrEqual(5);
    const trainer = readdirSync('/proc').find((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes('trainer.js') && cmd.includes(data);
      } catch {
        return false;
      }
    });
    process.kill(Number(trainer), 'SIGKILL');
    await exited;
    expect(listMetrics(db, 1, 'reward').length).toBeLessThan(12);
    const resumed = vrft('train', '--resume', '1', '--data', data);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(listMetrics(db, 1, 'reward').map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(countRollouts(db, 1)).toBe(12 * 2 * 4);
    expect(getRun(db, 1)?.status).toBe('completed');
    db.close();
  });
});
