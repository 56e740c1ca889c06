/**
 * `vrft generate`: one question about one image, answered by any model folder vrft loads. The
 * prompt is wrapped in the model's chat template with the image before it, unless `--template raw`
 * says it is the whole input already (with the model's image placeholder where the image goes).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { oddFile } from '../data/formats/files';
import { backendNames } from '../engine/names';
import { oneOf, requiredString, UsageError, wholeNumber, type Command, type Values } from './command';

function fraction(values: Values, flag: string, fallback: number, max: number): number {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > max)
    throw new UsageError(`--${flag} wants a number from 0 to ${max}, got "${String(raw)}"`);
  return n;
}

async function generate(values: Values): Promise<number> {
  const modelDir = path.resolve(requiredString(values, 'model'));
  const imageFile = requiredString(values, 'image');
  const prompt = requiredString(values, 'prompt');
  const template = oneOf(values, 'template', ['chat', 'raw'] as const, 'chat');
  const maxNewTokens = wholeNumber(values, 'max-new-tokens', 128);
  if (maxNewTokens < 1) throw new UsageError('--max-new-tokens wants at least 1');
  const temperature = fraction(values, 'temperature', 0, 5);
  const topP = fraction(values, 'top-p', 1, 1);
  if (topP === 0) throw new UsageError('--top-p wants a number above 0 and at most 1');
  const seed = wholeNumber(values, 'seed', 0);
  const backend = values.backend === undefined ? undefined : oneOf(values, 'backend', backendNames);

  // A pipe or a folder would block or fail the read: said as what it is.
  const problem = oddFile(imageFile);
  if (problem) throw new UsageError(`${imageFile} ${problem}: name the image file`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(imageFile);
  } catch {
    throw new UsageError(`${imageFile}: no such image file`);
  }
  const { decodeImage } = await import('../data/imageFiles');
  let image;
  try {
    image = decodeImage(bytes);
  } catch (error) {
    throw new UserError('invalid_input', `${imageFile}: ${(error as Error).message}`);
  }
  // A folder that is no model, or a damaged one, is refused with what is wrong before any loading.
  const { inspectModelFolder } = await import('../models/inspect');
  try {
    inspectModelFolder(modelDir);
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }
  const { initEngine } = await import('../engine');
  const engine = await initEngine(backend === undefined ? {} : { force: backend });
  process.stderr.write(`vrft: loading ${modelDir} on ${engine.backend}\n`);
  const { loadPolicy } = await import('../models');
  const policy = await loadPolicy(modelDir);
  try {
    const started = performance.now();
    const prepared = policy.prepare([{ image, prompt, raw: template === 'raw' }]);
    const [sample] = policy.sample(prepared, { n: 1, temperature, topP, maxNewTokens, seed });
    prepared.dispose();
    const s = sample!;
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`vrft: ${s.tokenIds.length} tokens in ${seconds.toFixed(2)} s\n`);
    if (values.json) {
      const answer = { text: s.text, tokenIds: s.tokenIds, logProbs: s.logProbs, truncated: s.truncated };
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    } else process.stdout.write(`${s.text}\n`);
  } finally {
    policy.dispose();
  }
  return 0;
}

export const generateCommand: Command = {
  summary: 'answer one question about one image with a model folder (Qwen2-VL, Qwen2.5-VL, tiny-vlm)',
  usage:
    'vrft generate --model DIR --image FILE --prompt TEXT [--template chat|raw] [--max-new-tokens N] ' +
    `[--temperature T] [--top-p P] [--seed S] [--backend ${backendNames.join('|')}] [--json]`,
  flags: {
    model: { type: 'string' },
    image: { type: 'string' },
    prompt: { type: 'string' },
    template: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: generate,
};
