/**
 * vrft export-model end to end: a tiny Qwen2-VL SFT run with LoRA (2 steps, a checkpoint after
 * each; SFT moves B off zero in one step, where GRPO on an untrained model often does not) is
 * exported as PEFT's adapter folder and merged; the merged folder loads with no adapters and gives
 * the adapter folder's log-probs. A tiny-vlm LoRA run exports as it is, and merged. Runs without a
 * model, unknown runs and a non-empty --out are refused with one line each.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/main/models';
import type { Policy, RgbImage } from '../../src/main/models/policy';
import { readSafetensors } from '../../src/main/models/safetensors';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { addCheckpoint, createRun, getRun, listCheckpoints, setRunStatus } from '../../src/main/store/runs';
import { runDir } from '../../src/main/train/runFiles';
import { saveTinyModel } from '../support/tinyModel';
import { shapesWorkspace, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-export-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');

beforeAll(async () => {
  if (!existsSync('out/main/cli.js')) throw new Error('The CLI is not built: run `npm run build` first.');
  await tf.setBackend('cpu');
});

function train(data: string, name: string, fields: Record<string, unknown>): number {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({ dataset: 'shapes', batchSize: 2, steps: 2, checkpointEvery: 1, ...fields }),
  );
  const r = vrft('train', '--method', 'sft', '--config', file, '--data', data);
  if (r.code !== 0) throw new Error(`vrft train failed: ${r.stderr}`);
  return Number(/run (\d+): completed/.exec(r.stderr)![1]);
}

function exportModel(data: string, run: number | string, out: string, ...flags: string[]) {
  return vrft('export-model', String(run), '--out', out, '--data', data, ...flags);
}

const image: RgbImage = {
  width: 56,
  height: 56,
  rgb: new Uint8Array(56 * 56 * 3).map((_, i) => (i * 37 + (i >> 7)) % 256),
};

/** Log-probs of one fixed answer, through the Policy interface alone. */
function answerLogProbs(policy: Policy): number[] {
  const prepared = policy.prepare([{ image, prompt: 'Find every circle.' }]);
  const tokenIds = policy.tokenizer.encode('<think>circle</think><answer>No Objects</answer>');
  const { logProbs, mask } = policy.logProbs(prepared, [{ promptIndex: 0, tokenIds }]);
  const values = Array.from(logProbs.dataSync());
  tf.dispose([logProbs, mask]);
  prepared.dispose();
  return values;
}

async function logProbsOf(folder: string): Promise<{ values: number[]; adapters: boolean }> {
  const policy = await loadPolicy(folder);
  try {
    const adapters = [...policy.trainableWeights().keys()].some((n) => n.includes('lora_'));
    return { values: answerLogProbs(policy), adapters };
  } finally {
    policy.dispose();
  }
}

const largestDifference = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
const bytes = (file: string) => readFileSync(file);

describe('a Qwen2-VL LoRA run', () => {
  let data: string;
  let run: number;
  beforeAll(() => {
    data = shapesWorkspace(path.join(dir, 'qwen'), 2);
    run = train(data, 'qwen', { model: base, learningRate: 0.01, lora: { r: 4, lora_alpha: 8 } });
  }, 300_000);

  it('exports PEFT’s adapter folder with the base’s files, and merged weights that give its log-probs', async () => {
    const adapter = path.join(dir, 'qwen-adapter');
    const r = exportModel(data, run, adapter, '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ run, from: 'model', step: null, kind: 'qwen2-vl', merged: false, base });
    expect(readdirSync(adapter).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'chat_template.json',
      'config.json',
      'preprocessor_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const config = JSON.parse(readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, base_model_name_or_path: base });
    const tensors = readSafetensors(path.join(adapter, 'adapter_model.safetensors')).tensors;
    expect(
      [...tensors.keys()].every((k) => /^base_model\.model\.model\.language_model\.layers\./.test(k)),
    ).toBe(true);
    // Trained: B has left zero.
    const b = [...tensors].filter(([k]) => k.includes('lora_B')).flatMap(([, t]) => Array.from(t.data));
    expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(0);
    for (const name of ['config.json', 'tokenizer.json', 'chat_template.json', 'preprocessor_config.json'])
      expect(bytes(path.join(adapter, name)), name).toEqual(bytes(path.join(base, name)));

    const merged = path.join(dir, 'qwen-merged');
    const m = exportModel(data, run, merged, '--merge');
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/exported its final model \(qwen2-vl, merged full weights\)/);
    expect(readdirSync(merged)).toContain('model.safetensors');
    expect(readdirSync(merged)).not.toContain('adapter_config.json');
    const names = [...readSafetensors(path.join(merged, 'model.safetensors')).tensors.keys()];
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight');
    expect(names.some((n) => n.includes('lora'))).toBe(false);

    const [fromAdapter, fromMerged, fromBase] = [
      await logProbsOf(adapter),
      await logProbsOf(merged),
      await logProbsOf(base),
    ];
    expect(fromAdapter.adapters).toBe(true);
    expect(fromMerged.adapters).toBe(false);
    expect(largestDifference(fromMerged.values, fromAdapter.values)).toBeLessThan(1e-4);
    // The adapters changed the model, so the equality above is not the base's.
    expect(largestDifference(fromBase.values, fromAdapter.values)).toBeGreaterThan(1e-4);
  }, 300_000);

  it('exports a checkpoint, as an adapter and merged', async () => {
    const steps = (() => {
      const db = openStore(workspaceDbPath(data));
      try {
        return listCheckpoints(db, run);
      } finally {
        db.close();
      }
    })();
    expect(steps.map((c) => c.step)).toEqual([1, 2]);
    const out = path.join(dir, 'qwen-step-1');
    const r = exportModel(data, run, out, '--checkpoint', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from: 'checkpoint', step: 1, merged: false, base });
    const file = 'adapter_model.safetensors';
    const kept = readSafetensors(path.join(steps[0]!.path, file)).tensors;
    const written = readSafetensors(path.join(out, file)).tensors;
    expect([...written.keys()].sort()).toEqual([...kept.keys()].sort());
    for (const [k, t] of kept) expect(Array.from(written.get(k)!.data), k).toEqual(Array.from(t.data));
    expect(bytes(path.join(out, file))).not.toEqual(bytes(path.join(runDir(data, run), 'model', file)));

    const merged = path.join(dir, 'qwen-step-1-merged');
    const m = exportModel(data, run, merged, '--checkpoint', '1', '--merge');
    expect(m.code, m.stderr).toBe(0);
    const [fromAdapter, fromMerged] = [await logProbsOf(out), await logProbsOf(merged)];
    expect(fromMerged.adapters).toBe(false);
    expect(largestDifference(fromMerged.values, fromAdapter.values)).toBeLessThan(1e-4);
  }, 300_000);

  it('exports the latest checkpoint of an unfinished run, and refuses what it cannot export', () => {
    const db = openStore(workspaceDbPath(data));
    let paused: number, queued: number, lost: number, evaluation: number;
    try {
      const config = getRun(db, run)!.config;
      paused = createRun(db, { kind: 'sft', config });
      setRunStatus(db, paused, 'paused');
      for (const c of listCheckpoints(db, run))
        addCheckpoint(db, { runId: paused, step: c.step, path: c.path });
      queued = createRun(db, { kind: 'sft', config });
      lost = createRun(db, { kind: 'sft', config });
      setRunStatus(db, lost, 'running');
      setRunStatus(db, lost, 'completed');
      evaluation = createRun(db, { kind: 'eval', config: { model: base } });
    } finally {
      db.close();
    }
    const latest = exportModel(data, paused, path.join(dir, 'paused'), '--json');
    expect(latest.code, latest.stderr).toBe(0);
    expect(JSON.parse(latest.stdout)).toMatchObject({ from: 'checkpoint', step: 2 });
    expect(latest.stderr).toMatch(`run ${paused} is paused: exporting its latest checkpoint, step 2`);

    const taken = path.join(dir, 'taken');
    mkdirSync(taken);
    writeFileSync(path.join(taken, 'notes.txt'), 'mine');
    const refused: [number | string, string[], RegExp][] = [
      [run, ['--out', taken], /is not empty: name a new or empty folder/],
      [99, [], /there is no run 99 in /],
      [queued, [], new RegExp(`run ${queued} is queued and has no checkpoint yet`)],
      [lost, [], new RegExp(`run ${lost} is completed but its model folder .* is missing`)],
      [evaluation, [], new RegExp(`run ${evaluation} is an evaluation`)],
      [run, ['--checkpoint', '7'], /has no checkpoint at step 7: its checkpoints are at steps 1, 2/],
      ['latest', [], /"latest" is not a run number/],
    ];
    for (const [id, flags, message] of refused) {
      const out = flags.includes('--out') ? [] : ['--out', path.join(dir, `refused-${id}`)];
      const r = vrft('export-model', String(id), ...out, ...flags, '--data', data);
      expect(r.code, `${id} ${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
    expect(readdirSync(taken)).toEqual(['notes.txt']);
    expect(existsSync(path.join(dir, `refused-${queued}`))).toBe(false);
  }, 300_000);
});

describe('a tiny-vlm LoRA run', () => {
  let data: string;
  let run: number;
  beforeAll(() => {
    const model = path.join(dir, 'tiny-base');
    saveTinyModel(model);
    data = shapesWorkspace(path.join(dir, 'tiny'), 2);
    run = train(data, 'tiny', { model, learningRate: 0.01, lora: { r: 2, lora_alpha: 4 } });
  }, 300_000);

  it('exports its model folder as it is, and merged into a model without adapters', async () => {
    const model = path.join(runDir(data, run), 'model');
    const asIs = path.join(dir, 'tiny-as-is');
    const r = exportModel(data, run, asIs, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'tiny-vlm', merged: false, base: null });
    expect(readdirSync(asIs).sort()).toEqual(readdirSync(model).sort());
    for (const name of readdirSync(model))
      expect(bytes(path.join(asIs, name)), name).toEqual(bytes(path.join(model, name)));

    const merged = path.join(dir, 'tiny-merged');
    const m = exportModel(data, run, merged, '--merge');
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(merged, 'config.json'), 'utf8')).lora).toBeNull();
    const [fromRun, fromMerged] = [await logProbsOf(model), await logProbsOf(merged)];
    expect(fromRun.adapters).toBe(true);
    expect(fromMerged.adapters).toBe(false);
    expect(largestDifference(fromMerged.values, fromRun.values)).toBeLessThan(1e-4);
  }, 300_000);
});
