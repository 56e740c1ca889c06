/**
 * `vrft doctor --model DIR [--config FILE]` through the built CLI: the parameter counts and the
 * memory of a training step from config.json alone — a folder holding only the real Qwen2-VL-2B's
 * config.json is planned without a byte of weights — what the backend has, a verdict and advice.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelPlan } from '../../src/main/commands/doctorModel';
import { qwen2Vl2bConfig } from '../unit/qwen/hubConfigs';

const bin = path.resolve('bin/vrft.js');
const fixture = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
let dir: string;
let real2b: string;

beforeAll(() => {
  if (!existsSync('out/main/cli.js')) throw new Error('The CLI is not built: run `npm run build` first.');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-doctor-'));
  real2b = path.join(dir, 'Qwen2-VL-2B-Instruct');
  mkdirSync(real2b);
  writeFileSync(path.join(real2b, 'config.json'), JSON.stringify(qwen2Vl2bConfig, null, 2));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vrft(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `vrft doctor … --json`: exactly one JSON document on stdout, its model plan. */
function plan(...args: string[]): ModelPlan {
  const { code, stdout, stderr } = vrft('doctor', ...args, '--json');
  expect(code, stderr).toBe(0);
  expect(stdout.trim().split('\n')).toHaveLength(1);
  return (JSON.parse(stdout) as { model: ModelPlan }).model;
}

function runConfig(name: string, config: Record<string, unknown>): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify({ dataset: 'boxes', steps: 10, ...config }));
  return file;
}

describe('vrft doctor --model', () => {
  it('plans the tiny Qwen2-VL checkpoint: its parameters, a GRPO step with the defaults, and it fits', () => {
    const p = plan('--model', fixture, '--backend', 'cpu');
    expect(p.kind).toBe('qwen2-vl');
    expect(p.parameters.total).toBe(9_886_080); // Σ of its safetensors header's tensors
    expect(p.config).toBeNull();
    expect(p.step).toMatchObject({ rows: 16, imageTokens: 391, completionTokens: 256 });
    expect(p.backend).toMatchObject({ name: 'cpu', memory: 'machine memory', bytes: os.totalmem() });
    expect(p.verdict).toBe('fits');
  });

  it('plans a real 2B from its config.json alone: it does not fit wasm, and says what to install', () => {
    const p = plan('--model', real2b, '--backend', 'wasm');
    expect(p.parameters).toMatchObject({ vision: 665_271_296, language: 1_543_714_304, tied: true });
    expect(p.backend).toMatchObject({ name: 'wasm', memory: 'wasm heap', bytes: 4 * 2 ** 30 });
    expect(p.verdict).toBe('does not fit');
    expect(p.advice[0]).toMatch(/the weights alone need 8\.2 GiB; wasm holds 4\.0 GiB at most/);
    expect(p.advice[0]).toMatch(
      /npm install @tensorflow\/tfjs-node \(CPU.*npm install @tensorflow\/tfjs-node-gpu/,
    );
    expect(p.advice.join('\n')).toMatch(/turn on "gradientCheckpointing": true/);
    expect(p.advice.join('\n')).toMatch(/use LoRA/);
    expect(p.advice.join('\n')).toMatch(/lower numGenerations/);
  });

  it('takes the run config: LoRA r64, recomputation, the step’s size; a 224² image is 64 tokens', () => {
    const file = runConfig('grpo.json', {
      lora: { r: 64, lora_alpha: 128 },
      gradientCheckpointing: true,
      promptsPerStep: 1,
      numGenerations: 8,
      maxCompletionLength: 256,
    });
    const p = plan('--model', real2b, '--config', file, '--backend', 'cpu', '--image', '224x224');
    expect(p.method).toBe('grpo');
    expect(p.lora).toMatchObject({ rank: 64, alpha: 128, layers: 196, parameters: 73_859_072 });
    expect(p.step).toMatchObject({
      rows: 8,
      imageTokens: 64,
      gradientCheckpointing: true,
      trainableParameters: 73_859_072,
      referenceWeights: 0,
    });
    expect(p.step!.needed).toBe(p.step!.total.recomputed);
    expect(p.step!.activations.recomputed).toBeLessThan(p.step!.activations.full / 5);
  });

  it('finds the model a run config names when --model is absent (from the config’s folder); SFT configs too', () => {
    const grpo = plan(
      '--config',
      runConfig('named.json', { model: 'Qwen2-VL-2B-Instruct' }),
      '--backend',
      'cpu',
    );
    expect(grpo.dir).toBe(real2b);
    const sft = plan(
      '--config',
      runConfig('sft.json', { model: 'Qwen2-VL-2B-Instruct', batchSize: 2, lora: { r: 8 } }),
      '--backend',
      'cpu',
    );
    expect(sft.method).toBe('sft');
    expect(sft.step).toMatchObject({ rows: 2, referenceWeights: 0 });
  });

  it('prints the plan as rows: counts, memory, what the backend has, the verdict and advice', () => {
    const { code, stdout, stderr } = vrft('doctor', '--model', real2b, '--backend', 'wasm');
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^backend\s+wasm/m);
    expect(stdout).toMatch(/^parameters\s+2\.209 B: vision tower 665\.3 M, language model 1\.544 B/m);
    expect(stdout).toMatch(/^weights\s+8\.2 GiB \(float32\)/m);
    expect(stdout).toMatch(/^activations\s+[\d.]+ GiB in one pass, [\d.]+ GiB with gradientCheckpointing/m);
    expect(stdout).toMatch(/^wasm has\s+4\.0 GiB of wasm heap at most/m);
    expect(stdout).toMatch(/^verdict\s+does not fit$/m);
    expect(stdout).toMatch(/^advice\s+- the weights alone need 8\.2 GiB/m);
  });

  it('says tiny-vlm needs no planning, with its parameter count', () => {
    const p = plan('--model', 'resources/models/tiny-vlm-base', '--backend', 'cpu');
    expect(p.kind).toBe('tiny-vlm');
    expect(p.step).toBeNull();
    expect(p.verdict).toBe('not planned');
    expect(p.parameters.total).toBeGreaterThan(1e6);
  });

  it.each([
    [['--model', 'nowhere'], /nowhere is not a model folder/],
    [['--config', 'missing.json'], /missing\.json: no such file/],
    [['--image', '640x480'], /--image plans a step: give --model DIR or --config FILE/],
  ])('vrft doctor %j is a usage error: one line, exit 2', (args, message) => {
    const { code, stderr, stdout } = vrft('doctor', '--backend', 'cpu', ...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).toBe('');
  });

  it('a run config that is neither GRPO nor SFT names its problems', () => {
    const { code, stderr } = vrft('doctor', '--config', runConfig('bad.json', { numGenerations: 1 }));
    expect(code).toBe(2);
    expect(stderr).toMatch(/bad\.json is neither a GRPO nor an SFT run config/);
  });
});
