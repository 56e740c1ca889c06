/** tiny-vlm behind the Policy interface: prompt templates, KV-cached sampling, log-probs, save/load. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { seeded } from '../../../shared/random';
import type { Size } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import type {
  CompletionRef,
  LoraConfig,
  Policy,
  PolicyReplica,
  Prepared,
  PromptInput,
  Sample,
  SampleOptions,
  SaveOptions,
} from '../policy';
import { decodeRows } from '../sampling';
import { readSafetensors, writeSafetensors, type TensorMap } from '../safetensors';
import { loadTokenizer, TextTokenizer } from '../tokenizer';
import { imagePatches } from './image';
import { patchCount, patchDim, type TinyVlmConfig } from './config';
import { loraTargets, TinyVlm, type KvCache } from './model';
import { tinyVlmPrompts } from './prompts';

class TinyPrepared implements Prepared {
  constructor(
    readonly patches: tf.Tensor3D,
    readonly prompts: number[][],
    /** [prompts · patches] class ids, when the inputs carried patch labels. */
    readonly patchLabels: number[] | null = null,
    /** [prompts · patches] boxes (null on the background), when the inputs carried patch boxes. */
    readonly patchBoxes: (readonly number[] | null)[] | null = null,
  ) {}
  get count(): number {
    return this.prompts.length;
  }
  dispose(): void {
    this.patches.dispose();
  }
}

export class TinyVlmPolicy implements Policy {
  readonly kind = 'tiny-vlm' as const;
  readonly frame = 'norm1000' as const;
  readonly prompts = tinyVlmPrompts;

  constructor(
    readonly model: TinyVlm,
    readonly tokenizer: TextTokenizer,
  ) {}

  static create(
    config: Omit<TinyVlmConfig, 'vocabSize' | 'numberValues'>,
    tokenizer: TextTokenizer,
    seed = 0,
  ): TinyVlmPolicy {
    const numberValues = Array.from(
      { length: tokenizer.vocabSize },
      (_, id) => tokenizer.numberValue(id) ?? -1,
    );
    return new TinyVlmPolicy(
      new TinyVlm({ ...config, vocabSize: tokenizer.vocabSize, numberValues }, seed),
      tokenizer,
    );
  }

  /**
   * Loads config.json, model.safetensors and tokenizer.json from a model folder. A folder saved
   * with adapters (a LoRA run's model) names them in its config and keeps them in its weights.
   */
  static load(dir: string, options: { lora?: LoraConfig | null; seed?: number } = {}): TinyVlmPolicy {
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as TinyVlmConfig;
    const tokenizer = loadTokenizer(dir);
    const lora = options.lora ?? (config.lora ? { dropout: 0, ...config.lora } : null);
    if (lora && lora.dropout > 0)
      throw new UserError('invalid_input', 'tiny-vlm’s LoRA adapters have no dropout: set lora_dropout to 0');
    if (lora?.targetModules && lora.targetModules !== 'all-linear')
      throw new UserError(
        'invalid_input',
        `tiny-vlm’s LoRA adapters always sit on ${loraTargets.join(', ')}: leave target_modules out`,
      );
    const policy = new TinyVlmPolicy(new TinyVlm({ ...config, lora: null }, options.seed ?? 0), tokenizer);
    if (lora) {
      policy.model.config.lora = lora;
      policy.model.addAdapters(lora.rank, (options.seed ?? 0) + 1000);
    }
    const file = path.join(dir, 'model.safetensors');
    const tensors = readSafetensors(file).tensors;
    // A folder's weights are the whole model (adapters too when its config names them): a tensor
    // left out would stay at its random start and the model would answer as if untrained.
    const missing = [...policy.model.weights.keys()].filter(
      (name) => !tensors.has(name) && !(name.includes('.lora_') && !config.lora),
    );
    try {
      if (missing.length)
        throw new Error(
          `it lacks ${missing.length} of the model's ${policy.model.weights.size} tensors (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`,
        );
      policy.loadWeights(tensors);
    } catch (error) {
      policy.dispose();
      throw new UserError(
        'invalid_input',
        `${file} does not match ${path.join(dir, 'config.json')}: ${(error as Error).message}; the weights are of another model, or the config was edited`,
      );
    }
    return policy;
  }

  loadWeights(tensors: TensorMap): void {
    for (const [name, t] of tensors) {
      const w = this.model.weights.get(name);
      if (!w) throw new Error(`the checkpoint has ${name}, which tiny-vlm does not`);
      if (w.shape.join() !== t.shape.join())
        throw new Error(`${name}: checkpoint shape [${t.shape}] ≠ model [${w.shape}]`);
      // In a tidy, so the loaded tensor is freed once the weight no longer holds it.
      tf.tidy(() => w.assign(tf.tensor(t.data as Float32Array, t.shape)));
    }
  }

  /** tiny-vlm sees every image as it is (its patches are cut from the image itself). */
  inputSize(image: Size): Size {
    return { width: image.width, height: image.height };
  }

  trainableWeights(): Map<string, tf.Variable> {
    return new Map([...this.model.weights].filter(([, v]) => v.trainable));
  }

  /** A checkpoint keeps every weight: the model is small, and a checkpoint then loads as a model. */
  saveCheckpointWeights(dir: string): void {
    writeSafetensors(path.join(dir, 'model.safetensors'), this.weightsMap());
  }

  loadCheckpointWeights(dir: string): void {
    this.loadWeights(readSafetensors(path.join(dir, 'model.safetensors')).tensors);
  }

  replica(): PolicyReplica {
    return {
      kind: this.kind,
      spec: { config: this.model.config, tokenizer: this.tokenizer.json },
      weights: this.weightsMap(),
    };
  }

  /** The policy a worker thread builds from `replica()`. */
  static fromReplica(replica: PolicyReplica): TinyVlmPolicy {
    const spec = replica.spec as { config: TinyVlmConfig; tokenizer: TextTokenizer['json'] };
    const policy = new TinyVlmPolicy(new TinyVlm(spec.config), new TextTokenizer(spec.tokenizer));
    policy.loadWeights(replica.weights);
    return policy;
  }

  weightsMap(): TensorMap {
    const out: TensorMap = new Map();
    for (const [name, w] of this.model.weights)
      out.set(name, { shape: w.shape, data: w.dataSync() as Float32Array });
    return out;
  }

  /** Every weight but the adapters, each adapter folded into its weight: W + A·B·α/r ([in, out]). */
  mergedWeights(): TensorMap {
    const { weights, config } = this.model;
    const scale = config.lora ? config.lora.alpha / config.lora.rank : 0;
    const out: TensorMap = new Map();
    for (const [name, w] of weights) {
      if (name.includes('.lora_')) continue;
      const layer = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : name;
      const [a, b] = [weights.get(`${layer}.lora_A`), weights.get(`${layer}.lora_B`)];
      const merged = a && b ? tf.tidy(() => tf.add(w, tf.mul(tf.matMul(a, b), scale))) : undefined;
      out.set(name, { shape: w.shape, data: (merged ?? w).dataSync() as Float32Array });
      merged?.dispose();
    }
    return out;
  }

  save(dir: string, metadata: Record<string, string> = {}, options: SaveOptions = {}): void {
    const merge = Boolean(options.merge && this.model.config.lora);
    const config = merge ? { ...this.model.config, lora: null } : this.model.config;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config)}\n`);
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(this.tokenizer.json));
    writeSafetensors(path.join(dir, 'model.safetensors'), merge ? this.mergedWeights() : this.weightsMap(), {
      format: 'vrft',
      model: 'tiny-vlm',
      ...metadata,
    });
  }

  /** Completion text without the end token. */
  decode(ids: number[]): string {
    const kept = ids.filter((id) => id !== this.tokenizer.eos);
    return kept.length ? this.tokenizer.decode(kept) : '';
  }

  promptIds(prompt: string, raw = false): number[] {
    return this.tokenizer.encode(raw ? prompt : `${prompt}\n`);
  }

  prepare(batch: PromptInput[]): TinyPrepared {
    const c = this.model.config;
    const data = new Float32Array(batch.length * patchCount(c) * patchDim(c));
    batch.forEach((item, i) => data.set(imagePatches(item.image, c), i * patchCount(c) * patchDim(c)));
    const patches = tf.tensor3d(data, [batch.length, patchCount(c), patchDim(c)]);
    const labelled = batch.every((item) => item.patchLabels?.length === patchCount(c));
    if (batch.some((item) => item.patchLabels) && !(labelled && c.patchClassTokens))
      throw new Error(
        `patch labels need a patch classifier (patchClassTokens) and ${patchCount(c)} labels per image`,
      );
    const boxed = batch.every((item) => item.patchBoxes?.length === patchCount(c));
    if (batch.some((item) => item.patchBoxes) && !(boxed && labelled && c.patchBoxHead))
      throw new Error(
        `patch boxes need a patch box head (patchBoxHead), patch labels, and ${patchCount(c)} boxes per image`,
      );
    return new TinyPrepared(
      patches,
      batch.map((item) => this.promptIds(item.prompt, item.raw)),
      labelled ? batch.flatMap((item) => item.patchLabels!) : null,
      boxed ? batch.flatMap((item) => item.patchBoxes!) : null,
    );
  }

  sample(prepared: Prepared, options: SampleOptions): Sample[] {
    const p = prepared as TinyPrepared;
    const samples: Sample[] = [];
    const limit = Math.min(
      options.maxNewTokens,
      this.model.config.maxPositions -
        patchCount(this.model.config) -
        Math.max(...p.prompts.map((x) => x.length)),
    );
    for (let b = 0; b < p.count; b++) {
      const random = seeded(options.seed * 7919 + b).next;
      const rows = options.n;
      let { cache, logits } = tf.tidy(() => {
        const image = this.model.encodeImages(tf.slice(p.patches, [b, 0, 0], [1, -1, -1]));
        const prompt = tf.tensor2d([p.prompts[b]!], [1, p.prompts[b]!.length], 'int32');
        const first = this.model.prefill(image, prompt);
        // The G samples share one prefill: tile its cache and logits.
        const tile = <T extends tf.Tensor>(t: T) => tf.tile(t, [rows, ...t.shape.slice(1).map(() => 1)]) as T;
        return {
          cache: {
            keys: first.cache.keys.map(tile),
            values: first.cache.values.map(tile),
            length: first.cache.length,
          },
          logits: tile(first.logits),
        };
      });
      const decoded = decodeRows(
        {
          logits: () => ({ values: logits.dataSync() as Float32Array, vocab: logits.shape[1] }),
          step: (next) => {
            const stepped = tf.tidy(() => {
              const out = this.model.step(cache, tf.tensor1d(next, 'int32'));
              return { keys: out.cache.keys, values: out.cache.values, logits: out.logits };
            });
            disposeCache(cache);
            logits.dispose();
            cache = { keys: stepped.keys, values: stepped.values, length: cache.length + 1 };
            logits = stepped.logits;
          },
          dispose: () => {
            logits.dispose();
            disposeCache(cache);
          },
        },
        rows,
        { ...options, maxNewTokens: limit },
        random,
        (token) => token === this.tokenizer.eos,
        this.tokenizer.eos,
      );
      for (const row of decoded) samples.push({ promptIndex: b, ...row, text: this.decode(row.tokenIds) });
    }
    return samples;
  }

  logProbs(
    prepared: Prepared,
    completions: CompletionRef[],
    temperature = 1,
  ): { logProbs: tf.Tensor2D; mask: tf.Tensor2D; patchLoss?: tf.Scalar; patchBoxLoss?: tf.Scalar } {
    const p = prepared as TinyPrepared;
    const { model } = this;
    return tf.tidy(() => {
      const batch = teacherForcingBatch(p.prompts, completions, this.tokenizer.pad, patchCount(model.config));
      const tokens = model.encodeImages(p.patches);
      // Vision features once per prompt, gathered per completion (the gradient sums over a group).
      const perPrompt = tf.reshape(tokens, [p.count, patchCount(model.config), -1]);
      const images = tf.reshape(tf.gather(perPrompt, tf.tensor1d(batch.promptOfRow, 'int32')), [
        -1,
        model.config.dModel,
      ]) as tf.Tensor2D;
      const logits = model.forward(images, batch.tokens, batch.targetRows);
      const scaled = temperature === 1 ? logits : tf.div(logits, temperature);
      const picked = tf.sum(
        tf.mul(tf.logSoftmax(scaled), tf.oneHot(batch.targetIds, model.config.vocabSize)),
        1,
      );
      // Scatter the picked log-probs back to [completions, maxLength] (0 where there is no token).
      const grid = tf.reshape(tf.gather(tf.concat([tf.zeros([1]), picked]), batch.gridIndex), [
        completions.length,
        batch.maxLength,
      ]) as tf.Tensor2D;
      if (!p.patchLabels) return { logProbs: grid, mask: batch.mask };
      const classes = 1 + model.config.patchClassTokens!.length;
      const labels = tf.oneHot(tf.tensor1d(p.patchLabels, 'int32'), classes);
      const patchLoss = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model.patchLogits(tokens)), labels), 1)));
      const onShapes = p.patchBoxes?.flatMap((box, i) => (box ? [i] : [])) ?? [];
      if (!onShapes.length) return { logProbs: grid, mask: batch.mask, patchLoss: patchLoss as tf.Scalar };
      // The box head's mean cross-entropy over the four edges of every patch on a shape.
      const edges = model.patchBoxLogits(tf.gather(tokens, tf.tensor1d(onShapes, 'int32')));
      const values = tf.oneHot(
        tf.tensor1d(
          onShapes.flatMap((i) => [...p.patchBoxes![i]!]),
          'int32',
        ),
        1001,
      );
      const patchBoxLoss = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(edges), values), 1)));
      return {
        logProbs: grid,
        mask: batch.mask,
        patchLoss: patchLoss as tf.Scalar,
        patchBoxLoss: patchBoxLoss as tf.Scalar,
      };
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.model.trainableVariables();
  }

  withAdapters<T>(on: boolean, fn: () => T): T {
    this.model.setAdapters(on);
    try {
      return fn();
    } finally {
      this.model.setAdapters(true);
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

function disposeCache(cache: KvCache): void {
  for (const t of [...cache.keys, ...cache.values]) t.dispose();
}

/**
 * Rows of image + prompt + completion, right-padded; the sequence positions whose next-token
 * logits predict each completion token; and where each lands in a [completions, maxLength] grid.
 */
export function teacherForcingBatch(
  prompts: number[][],
  completions: CompletionRef[],
  pad: number,
  imageTokens: number,
) {
  const lengths = completions.map((c) => prompts[c.promptIndex]!.length + c.tokenIds.length);
  const L = Math.max(...lengths);
  const maxLength = Math.max(1, ...completions.map((c) => c.tokenIds.length));
  const S = imageTokens + L;
  const tokens = new Int32Array(completions.length * L).fill(pad);
  const targetRows: number[] = [];
  const targetIds: number[] = [];
  const gridIndex = new Int32Array(completions.length * maxLength); // 0 → the zero slot
  const mask = new Float32Array(completions.length * maxLength);
  completions.forEach((c, row) => {
    const prompt = prompts[c.promptIndex]!;
    tokens.set(prompt, row * L);
    tokens.set(c.tokenIds, row * L + prompt.length);
    c.tokenIds.forEach((id, j) => {
      // Token j sits at sequence index P + |prompt| + j; the position before it predicts it.
      targetRows.push(row * S + imageTokens + prompt.length + j - 1);
      targetIds.push(id);
      gridIndex[row * maxLength + j] = targetIds.length; // 1-based into [0, …picked]
      mask[row * maxLength + j] = 1;
    });
  });
  return {
    tokens: tf.tensor2d(tokens, [completions.length, L], 'int32'),
    targetRows: tf.tensor1d(targetRows, 'int32'),
    targetIds: tf.tensor1d(targetIds, 'int32'),
    gridIndex: tf.tensor1d(gridIndex, 'int32'),
    mask: tf.tensor2d(mask, [completions.length, maxLength]),
    promptOfRow: completions.map((c) => c.promptIndex),
    maxLength,
  };
}
