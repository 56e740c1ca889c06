/**
 * A real checkpoint on the wasm backend: its float32 weights do not fit wasm's 4 GiB heap, so
 * loading it says so — and names the packages to install — before a byte of weights is read.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/shared/errors';
import { initEngine } from '../../../src/main/engine';
import { QwenPolicy } from '../../../src/main/models/qwen2-vl/policy';
import { qwen2Vl2bConfig } from './hubConfigs';

const fixtures = path.join(__dirname, '../../fixtures/qwen');
let dir: string;

beforeAll(async () => {
  expect((await initEngine({ force: 'wasm' })).backend).toBe('wasm');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-wasm-cap-'));
  // The 2B's config.json and a model.safetensors whose header declares its 4 GB embedding in BF16
  // over a body of 16 bytes: reading the weights would fail as a truncated file.
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(qwen2Vl2bConfig));
  const header = Buffer.from(
    JSON.stringify({
      'model.embed_tokens.weight': {
        dtype: 'BF16',
        shape: [151936, 1536],
        data_offsets: [0, 151936 * 1536 * 2],
      },
    }),
  );
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([prefix, header, Buffer.alloc(16)]));
  for (const file of [
    'tokenizer.json',
    'tokenizer_config.json',
    'chat_template.json',
    'preprocessor_config.json',
  ])
    copyFileSync(path.join(fixtures, 'qwen2-vl/checkpoint', file), path.join(dir, file));
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('a checkpoint larger than wasm holds', () => {
  it('fails before reading its weights, saying it needs more memory than wasm has and what to install', () => {
    let error: unknown;
    try {
      QwenPolicy.load(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('unavailable');
    const message = (error as Error).message;
    expect(message).toContain('needs 8.2 GiB for its float32 weights, more memory than the wasm backend has');
    expect(message).toContain('npm install @tensorflow/tfjs-node (CPU)');
    expect(message).toContain('npm install @tensorflow/tfjs-node-gpu (NVIDIA GPU)');
    expect(message).not.toMatch(/truncated/);
  });

  it('still loads a checkpoint that fits', () => {
    const policy = QwenPolicy.load(path.join(fixtures, 'qwen2-vl/checkpoint'));
    expect(policy.kind).toBe('qwen2-vl');
    policy.dispose();
  });
});
