/**
 * `vrft doctor --model DIR` inspects the folder as `vrft train` does before a run exists (issue 26):
 * weights cut short, a tensor shape config.json disagrees with, a broken tokenizer.json, a Qwen
 * folder without a chat template — each reported, naming the file and what is wrong, exit 1, and
 * with --json one JSON document on stdout. The tiny Qwen2-VL fixture and tiny-vlm pass.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DamagedModel, ModelPlan } from '../../src/main/commands/doctorModel';
import { builtInModelPath } from '../../src/main/models/installed';

const bin = path.resolve('bin/vrft.js');
const qwen = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
let dir: string;

beforeAll(() => {
  if (!existsSync('out/main/cli.js')) throw new Error('The CLI is not built: run `npm run build` first.');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-doctor-folder-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function doctor(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, 'doctor', '--backend', 'cpu', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A copy of `from` named `name`, damaged by `damage`. */
function damaged(name: string, from: string, damage: (dir: string) => void): string {
  const copy = path.join(dir, name);
  cpSync(from, copy, { recursive: true });
  damage(copy);
  return copy;
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(file, JSON.stringify(json, null, 2));
}

const cases: [string, () => string, RegExp][] = [
  [
    'weights cut short',
    () =>
      damaged('truncated', builtInModelPath, (d) => truncateSync(path.join(d, 'model.safetensors'), 100_000)),
    /model\.safetensors: \S+'s data .* runs past the end of the file .*truncated/,
  ],
  [
    'a tensor shape config.json disagrees with (tiny-vlm dModel edited)',
    () =>
      damaged('other-width', builtInModelPath, (d) =>
        editJson(path.join(d, 'config.json'), (c) => (c.dModel = 64)),
      ),
    /model\.safetensors does not match config\.json beside it: decoder\.embed_positions\.weight is \[224, 128\], where dModel 64/,
  ],
  [
    'a Qwen config.json with more layers than its weights',
    () =>
      damaged('qwen-layers', qwen, (d) =>
        editJson(path.join(d, 'config.json'), (c) => (c.num_hidden_layers = 3)),
      ),
    /the weights do not fit config\.json \(qwen2_vl\): model\.layers\.2\.input_layernorm\.weight is missing/,
  ],
  [
    'a broken tokenizer.json',
    () =>
      damaged('tokenizer-cut', builtInModelPath, (d) => {
        const file = path.join(d, 'tokenizer.json');
        writeFileSync(file, readFileSync(file).subarray(0, 5000));
      }),
    /tokenizer\.json: not valid JSON/,
  ],
  [
    'a Qwen folder without a chat template',
    () =>
      damaged('no-template', qwen, (d) => {
        rmSync(path.join(d, 'chat_template.json'));
        editJson(path.join(d, 'tokenizer_config.json'), (c) => delete c.chat_template);
      }),
    /is not a complete model folder: it has no chat template/,
  ],
];

describe('vrft doctor --model inspects the folder as vrft train does', { timeout: 120_000 }, () => {
  it.each(cases)('reports %s and exits 1', (_name, make, message) => {
    const folder = make();
    const text = doctor('--model', folder);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stderr).toMatch(message);
    expect(text.stderr).not.toMatch(/\n\s+at /); // a message, not a stack
    expect(text.stdout).toMatch(/^problem\s+/m);
    expect(text.stdout).toMatch(/^verdict\s+vrft cannot train or evaluate this folder/m);

    const json = doctor('--model', folder, '--json');
    expect(json.code).toBe(1);
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    const model = (JSON.parse(json.stdout) as { model: DamagedModel }).model;
    expect(model).toMatchObject({ dir: path.resolve(folder), verdict: 'damaged' });
    expect(model.problems.join('\n')).toMatch(message);
  });

  it.each([
    ['the tiny Qwen2-VL fixture', qwen],
    ['the built-in tiny-vlm', builtInModelPath],
  ])('passes %s', (_name, folder) => {
    const { code, stdout, stderr } = doctor('--model', folder, '--json');
    expect(code, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect((JSON.parse(stdout) as { model: ModelPlan }).model).toMatchObject({
      dir: path.resolve(folder),
      weights: 'checked',
    });
  });
});
