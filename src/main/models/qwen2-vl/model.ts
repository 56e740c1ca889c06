/**
 * Qwen2-VL / Qwen2.5-VL: the vision tower (vision.ts) feeding the Qwen2 language model
 * (language.ts), with KV-cached decoding. Built from a parsed config.json and the checkpoint's
 * tensors — `readSafetensors(file).tensors` or a folder loader's map — under the checkpoint's own names.
 *
 * Sampling G answers to one prompt: `encodeImages` once, `prefill` the prompt once, `tileCache`
 * its cache to G rows, then `decodeStep` all G rows a token at a time. Training recomputes
 * `hiddenStates` of prompt + answer in one differentiable pass.
 */
import { tf } from '../../engine/tf';
import type { TensorMap } from '../safetensors';
import { qwenEosIds, qwenTokens, type QwenConfig } from './config';
import { QwenWeights } from './layers';
import { disposeCache, positionIds, QwenLanguageModel, type KvCache } from './language';
import { logSoftmax } from './logProbs';
import { QwenVision, type GridThw, type VisionOutput } from './vision';
import { qwenWeightShapes } from './weightShapes';

export { qwenWeightShapes };

export { disposeCache, positionIds, tileCache, type KvCache } from './language';
export { logSoftmax } from './logProbs';
export { mergedTokenCount, type GridThw } from './vision';

/** One sequence: its token ids and the grids of its images, in the order their blocks appear. */
export interface QwenSequence {
  inputIds: readonly number[];
  grids: readonly GridThw[];
}

export interface GreedyResult {
  /** Per row: the new tokens, through the end token when one came. */
  tokens: number[][];
  /** Per row: log-softmax of each chosen token. */
  logProbs: number[][];
}

/** Checks a checkpoint's tensors against the config: every weight there, each of its shape. */
function checkWeights(config: QwenConfig, tensors: TensorMap): void {
  const problems: string[] = [];
  for (const [name, shape] of qwenWeightShapes(config)) {
    const found = tensors.get(name);
    if (!found) problems.push(`${name} is missing`);
    else if (found.shape.join() !== shape.join())
      problems.push(`${name} is [${found.shape.join(', ')}], the config says [${shape.join(', ')}]`);
  }
  if (problems.length)
    throw new Error(
      `the weights do not fit config.json (${config.modelType}): ${problems.slice(0, 5).join('; ')}` +
        (problems.length > 5 ? `; and ${problems.length - 5} more` : ''),
    );
}

/** Sequences left-padded to one length with `<|endoftext|>`, the padding masked. */
function leftPad(sequences: readonly QwenSequence[]): { ids: number[][]; mask: number[][] } {
  const width = Math.max(...sequences.map((s) => s.inputIds.length));
  const pad = (s: QwenSequence) => width - s.inputIds.length;
  return {
    ids: sequences.map((s) => [...Array<number>(pad(s)).fill(qwenTokens.endOfText), ...s.inputIds]),
    mask: sequences.map((s) => [
      ...Array<number>(pad(s)).fill(0),
      ...Array<number>(s.inputIds.length).fill(1),
    ]),
  };
}

export class QwenVl {
  readonly weights: QwenWeights;
  readonly vision: QwenVision;
  readonly language: QwenLanguageModel;

  constructor(
    readonly config: QwenConfig,
    tensors: TensorMap,
  ) {
    checkWeights(config, tensors);
    this.weights = new QwenWeights(tensors);
    this.vision = new QwenVision(config, this.weights);
    this.language = new QwenLanguageModel(config, this.weights);
  }

  /** Pixel rows [N, C·T·p·p] of the images of `grids` → merged features [Σ image tokens, hidden]. */
  encodeImages(pixels: tf.Tensor2D, grids: readonly GridThw[]): tf.Tensor2D {
    return this.vision.encode(pixels, grids).merged;
  }

  /** encodeImages with the patch embedding and every block's output (for parity tests). */
  encodeImagesTraced(pixels: tf.Tensor2D, grids: readonly GridThw[]): VisionOutput {
    return this.vision.encode(pixels, grids, { blockOutputs: true });
  }

  /**
   * Final-normed hidden states [rows, width, hidden] of sequences left-padded to one width (the
   * padding masked and at position 0); `imageFeatures` holds every image's merged features, row
   * after row. Differentiable: the training pass; `dropout` applies the LoRA adapters' dropout.
   */
  hiddenStates(
    sequences: readonly QwenSequence[],
    imageFeatures: tf.Tensor2D | null,
    options: { dropout?: boolean; recompute?: boolean } = {},
  ): { hidden: tf.Tensor3D; mask: number[][] } {
    const { ids, mask } = leftPad(sequences);
    const training = this.weights.training;
    this.weights.training = options.dropout ?? training;
    try {
      return tf.tidy(() => {
        const x = this.language.embed(ids, imageFeatures);
        const positions = this.positions(sequences, ids, mask);
        const { hidden } = this.language.forward(x, positions, {
          attentionMask: mask,
          recompute: options.recompute,
        });
        return { hidden, mask };
      });
    } finally {
      this.weights.training = training;
    }
  }

  /** Next-token logits [m, vocab] of hidden states [m, hidden]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return this.language.logits(hidden);
  }

  /** Differentiable log-probabilities of `targets` after rows of hidden states (no whole [rows × vocab] tensor). */
  tokenLogProbs(hidden: tf.Tensor2D, targets: readonly number[], temperature = 1): tf.Tensor1D {
    return this.language.tokenLogProbs(hidden, targets, temperature);
  }

  /**
   * Runs prompts (left-padded to one length) through the language model once: their cache and the
   * logits of each prompt's last token [rows, vocab]; with `hidden`, also all final hidden states.
   */
  prefill(
    prompts: readonly QwenSequence[],
    imageFeatures: tf.Tensor2D | null,
    options: { hidden?: boolean } = {},
  ): { cache: KvCache; logits: tf.Tensor2D; hidden?: tf.Tensor3D } {
    const { ids, mask } = leftPad(prompts);
    const positions = this.positions(prompts, ids, mask);
    let cache: KvCache | undefined;
    let hidden: tf.Tensor3D | undefined;
    const logits = tf.tidy(() => {
      const x = this.language.embed(ids, imageFeatures);
      const out = this.language.forward(x, positions, { attentionMask: mask, keepCache: true });
      cache = out.cache!;
      for (const t of [...cache.keys, ...cache.values]) tf.keep(t);
      if (options.hidden) hidden = tf.keep(out.hidden);
      const [rows, n, width] = out.hidden.shape;
      return this.language.logits(
        tf.reshape(tf.slice(out.hidden, [0, n - 1, 0], [rows, 1, width]), [rows, width]),
      );
    });
    return { cache: cache!, logits, ...(hidden ? { hidden } : {}) };
  }

  /**
   * One token more for every row of the cache: `tokens` [rows] → the next logits [rows, vocab]
   * and a new cache. The old cache is left as it was (dispose it with disposeCache when done; it
   * can still be decoded from).
   */
  decodeStep(
    cache: KvCache,
    tokens: tf.Tensor1D | readonly number[],
  ): { cache: KvCache; logits: tf.Tensor2D } {
    const rows = cache.nextPosition.length;
    const at = cache.nextPosition.map((p) => [p]);
    let next: KvCache | undefined;
    const logits = tf.tidy(() => {
      const ids = Array.isArray(tokens) ? tf.tensor1d(tokens as number[], 'int32') : (tokens as tf.Tensor1D);
      const hiddenSize = this.config.text.hiddenSize;
      const x = tf.reshape(tf.gather(this.weights.get('model.embed_tokens.weight'), ids), [
        rows,
        1,
        hiddenSize,
      ]);
      const out = this.language.forward(x as tf.Tensor3D, [at, at, at], { cache, keepCache: true });
      next = out.cache!;
      for (const t of [...next.keys, ...next.values]) tf.keep(t);
      return this.language.logits(tf.reshape(out.hidden, [rows, hiddenSize]));
    });
    return { cache: next!, logits };
  }

  /**
   * Greedy decoding of each row (left-padded together) until an end token (`<|im_end|>`,
   * `<|endoftext|>`) or `maxNewTokens`; finished rows are fed `<|endoftext|>` while the others go on.
   * `pixels` and `grids` hold every row's images, row after row.
   */
  greedy(
    inputIds: readonly (readonly number[])[],
    pixels: tf.Tensor2D | null,
    grids: readonly GridThw[],
    maxNewTokens: number,
  ): GreedyResult {
    const sequences = this.splitGrids(inputIds, grids);
    const features = pixels && grids.length ? this.encodeImages(pixels, grids) : null;
    let { cache, logits } = this.prefill(sequences, features);
    features?.dispose();
    const tokens: number[][] = inputIds.map(() => []);
    const logProbs: number[][] = inputIds.map(() => []);
    const done = inputIds.map(() => false);
    for (let step = 0; step < maxNewTokens && done.includes(false); step++) {
      const [chosen, logProb] = tf.tidy(() => {
        const best = tf.argMax(logits, 1);
        const lp = tf.gather(logSoftmax(logits), best, 1, 1);
        return [Array.from(best.dataSync()), Array.from(lp.dataSync())];
      });
      logits.dispose();
      const finishedBefore = [...done];
      chosen.forEach((id, r) => {
        if (done[r]) return;
        tokens[r]!.push(id);
        logProbs[r]!.push(logProb[r]!);
        if (qwenEosIds.includes(id)) done[r] = true;
      });
      if (step === maxNewTokens - 1 || !done.includes(false)) break;
      const fed = chosen.map((id, r) => (finishedBefore[r] ? qwenTokens.endOfText : id));
      const next = this.decodeStep(cache, fed);
      disposeCache(cache);
      ({ cache, logits } = next);
    }
    if (!logits.isDisposed) logits.dispose();
    disposeCache(cache);
    return { tokens, logProbs };
  }

  dispose(): void {
    this.weights.dispose();
  }

  /** Each row's M-RoPE positions, as [stream][row][token]. */
  private positions(sequences: readonly QwenSequence[], ids: number[][], mask: number[][]) {
    const streams: [number[][], number[][], number[][]] = [[], [], []];
    sequences.forEach((s, r) => {
      const { positions } = positionIds(ids[r]!, s.grids, this.config, mask[r]);
      positions.forEach((p, k) => streams[k]!.push(p));
    });
    return streams;
  }

  /** Gives each row the grids of its image blocks (runs of `<|image_pad|>`), in order. */
  private splitGrids(inputIds: readonly (readonly number[])[], grids: readonly GridThw[]): QwenSequence[] {
    let next = 0;
    const sequences = inputIds.map((ids) => {
      let blocks = 0;
      ids.forEach((id, i) => id === this.config.imageTokenId && ids[i - 1] !== id && blocks++);
      return { inputIds: ids, grids: grids.slice(next, (next += blocks)) };
    });
    if (next !== grids.length) throw new Error(`${grids.length} images for ${next} image blocks`);
    return sequences;
  }
}
