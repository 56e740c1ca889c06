/**
 * The Qwen2 language model of Qwen2-VL and Qwen2.5-VL (QWEN.md §4), with M-RoPE.
 *
 *   ids ─ model.embed_tokens (rows of <|image_pad|> replaced, in order, by the merged image features)
 *     ─ model.layers.* ─ model.norm ─ lm_head (tied: model.embed_tokens)
 *
 *   layer: h = x + o_proj(attn(input_layernorm x));  out = h + down_proj(silu(gate_proj n) · up_proj n),
 *          n = post_attention_layernorm h; RMSNorm in fp32; q/k/v with bias, o_proj and the MLP without;
 *          grouped-query attention (query head j reads KV head ⌊j·kv/heads⌋), causal, scale 1/√head_dim.
 *
 * M-RoPE: every token has three positions (t, h, w). Text tokens have all three equal to their
 * running index; an image's tokens share t and spread h and w over its merged grid
 * (`positionIds`). The rotary frequencies are split `mrope_section` ways: the first from t, the
 * next from h, the rest from w. After the prompt, token k of the answer is at n + k + ropeDelta
 * on all three streams.
 *
 * Everything here is TensorFlow.js ops on tensors (positions and masks are constants built from the
 * ids), so a loss over `forward`'s output is differentiable w.r.t. the weights and LoRA adapters.
 */
import { tf } from '../../engine/tf';
import type { QwenConfig } from './config';
import { applyRotary, attention, cosSin, inverseFrequencies, masked, type QwenWeights } from './layers';
import { logSoftmax, tokenLogProbs } from './logProbs';
import { mergedTokenCount, type GridThw } from './vision';

/** Three position streams (t, h, w), each [n]. */
export type MropePositions = [number[], number[], number[]];

/**
 * M-RoPE position ids of one sequence (transformers' get_rope_index). Text tokens — vision_start
 * and vision_end included — take the running index s on all three streams; a run of image tokens
 * takes the next grid: with merged grid H′×W′ (and t frames), token (f, r, c) is at
 * (s + f, s + r, s + c), and the index continues at s + max(H′, W′). Tokens with attention mask 0
 * (padding) are at 0 and do not count. ropeDelta = max position + 1 − real tokens: the answer's
 * token k (after n real prompt tokens) is at n + k + ropeDelta.
 */
export function positionIds(
  inputIds: readonly number[],
  imageGrids: readonly GridThw[],
  config: QwenConfig,
  attentionMask?: readonly number[],
): { positions: MropePositions; ropeDelta: number } {
  const m = config.vision.spatialMergeSize;
  const positions: MropePositions = [[], [], []];
  let next = 0;
  let highest = -1; // the largest position of a real token
  let real = 0;
  let image = 0;
  const put = (i: number, t: number, h: number, w: number) => {
    positions[0][i] = t;
    positions[1][i] = h;
    positions[2][i] = w;
  };
  for (let i = 0; i < inputIds.length;) {
    if (attentionMask && !attentionMask[i]) {
      put(i, 0, 0, 0);
      i++;
      continue;
    }
    if (inputIds[i] === config.videoTokenId)
      throw new Error('videos are not supported: the prompt has <|video_pad|>');
    if (inputIds[i] !== config.imageTokenId) {
      put(i, next, next, next);
      next++;
      real++;
      i++;
      continue;
    }
    const grid = imageGrids[image++];
    if (!grid) throw new Error(`the prompt has more image blocks than images (${imageGrids.length})`);
    const [t, gh, gw] = grid;
    const rows = gh / m;
    const cols = gw / m;
    for (let f = 0; f < t; f++)
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          if (inputIds[i] !== config.imageTokenId || (attentionMask && !attentionMask[i]))
            throw new Error(
              `image ${image} needs ${mergedTokenCount(grid, m)} <|image_pad|> tokens in a row (grid ${grid.join('×')})`,
            );
          put(i, next + f, next + r, next + c);
          real++;
          i++;
        }
    highest = Math.max(highest, next + t - 1, next + rows - 1, next + cols - 1);
    next += Math.max(rows, cols);
  }
  highest = Math.max(highest, next - 1);
  if (image !== imageGrids.length)
    throw new Error(`${imageGrids.length} images for ${image} image blocks in the prompt`);
  return { positions, ropeDelta: highest + 1 - real };
}

/** The key/value cache of a batch of rows: per layer [rows, kvHeads, length, headDim], rotated. */
export interface KvCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  /** Per row, per cached position: 1 for a real token, 0 for padding (never attended to). */
  keyMask: number[][];
  /** Per row: the M-RoPE position of the next token (the same on all three streams). */
  nextPosition: number[];
}

export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keys, ...cache.values]);
}

/** The cache with each row repeated `times` times in place (row 0 × times, row 1 × times, …): a prompt's prefill shared by its G samples. */
export function tileCache(cache: KvCache, times: number): KvCache {
  const rows = cache.nextPosition.length;
  const order = Array.from({ length: rows * times }, (_, i) => Math.floor(i / times));
  const index = tf.tensor1d(order, 'int32');
  const tile = (t: tf.Tensor4D) => tf.gather(t, index);
  const out: KvCache = {
    keys: cache.keys.map(tile),
    values: cache.values.map(tile),
    keyMask: order.map((r) => [...cache.keyMask[r]!]),
    nextPosition: order.map((r) => cache.nextPosition[r]!),
  };
  index.dispose();
  return out;
}

export interface ForwardOptions {
  /** Per row, per token: 1 real, 0 padding; all real when left out. */
  attentionMask?: number[][];
  /** Earlier tokens' keys and values: the new tokens follow them. */
  cache?: KvCache;
  /** Return the keys and values of every position so far (the new cache). */
  keepCache?: boolean;
  /**
   * Gradient checkpointing: keep only each decoder layer's input for the backward pass and
   * recompute the layer there (memory of one layer's activations instead of all of them).
   */
  recompute?: boolean;
}

export class QwenLanguageModel {
  private readonly inverseFrequencies: Float32Array;

  constructor(
    readonly config: QwenConfig,
    private readonly weights: QwenWeights,
  ) {
    this.inverseFrequencies = inverseFrequencies(config.text.ropeTheta, config.text.headDim);
  }

  /**
   * Token embeddings [rows, n, hidden]; the `<|image_pad|>` rows, taken in reading order (row
   * after row), become the rows of `imageFeatures` [image tokens, hidden].
   */
  embed(inputIds: readonly (readonly number[])[], imageFeatures?: tf.Tensor2D | null): tf.Tensor3D {
    const rows = inputIds.length;
    const n = inputIds[0]!.length;
    const hidden = this.config.text.hiddenSize;
    const flat = new Int32Array(rows * n);
    inputIds.forEach((ids, r) => flat.set(ids, r * n));
    return tf.tidy(() => {
      const text = tf.gather(this.weights.get('model.embed_tokens.weight'), tf.tensor1d(flat, 'int32'));
      const count = flat.reduce((sum, id) => sum + (id === this.config.imageTokenId ? 1 : 0), 0);
      if (count !== (imageFeatures?.shape[0] ?? 0))
        throw new Error(`${count} <|image_pad|> tokens for ${imageFeatures?.shape[0] ?? 0} image features`);
      if (!imageFeatures || count === 0) return tf.reshape(text, [rows, n, hidden]);
      // One gather from [text rows; image rows]: token i takes its own row or the next image row.
      let image = 0;
      const index = Int32Array.from(flat, (id, i) =>
        id === this.config.imageTokenId ? rows * n + image++ : i,
      );
      const table = tf.concat([text, imageFeatures], 0);
      return tf.reshape(tf.gather(table, tf.tensor1d(index, 'int32')), [rows, n, hidden]);
    });
  }

  /**
   * The decoder over embeddings x [rows, n, hidden] at M-RoPE `positions` (per stream, per row,
   * per token) → the final-normed hidden states [rows, n, hidden], and with `keepCache` the cache
   * of all positions so far.
   */
  forward(
    x: tf.Tensor3D,
    positions: [number[][], number[][], number[][]],
    options: ForwardOptions = {},
  ): { hidden: tf.Tensor3D; cache?: KvCache } {
    const [rows, n] = x.shape;
    const past = options.cache;
    const pastLength = past ? past.keyMask[0]!.length : 0;
    const newMask = options.attentionMask ?? Array.from({ length: rows }, () => Array<number>(n).fill(1));
    const keyMask = newMask.map((row, r) => [...(past?.keyMask[r] ?? []), ...row]);
    const out = tf.tidy(() => {
      const { cos, sin } = this.rotary(positions, rows, n);
      const mask = this.mask(keyMask, n, pastLength);
      let h: tf.Tensor = x;
      const keys: tf.Tensor4D[] = [];
      const values: tf.Tensor4D[] = [];
      for (let i = 0; i < this.config.text.numLayers; i++) {
        if (options.recompute && !options.keepCache && !past) {
          h = this.recomputedLayer(i, h, cos, sin, mask);
          continue;
        }
        const layer = this.layer(i, h, cos, sin, mask, past?.keys[i], past?.values[i]);
        h = layer.x;
        keys.push(layer.keys);
        values.push(layer.values);
      }
      const hidden = this.weights.rmsNorm('model.norm', h, this.config.text.rmsNormEps) as tf.Tensor3D;
      return { hidden, keys: options.keepCache ? keys : [], values: options.keepCache ? values : [] };
    });
    if (!options.keepCache) return { hidden: out.hidden };
    // The next token goes one past the furthest real position on any stream (n + ropeDelta after a prompt).
    const nextPosition = Array.from({ length: rows }, (_, r) => {
      let next = past?.nextPosition[r] ?? 0;
      for (const stream of positions)
        stream[r]!.forEach((p, i) => newMask[r]![i] && (next = Math.max(next, p + 1)));
      return next;
    });
    return { hidden: out.hidden, cache: { keys: out.keys, values: out.values, keyMask, nextPosition } };
  }

  private get headName(): string {
    return this.config.text.tieWordEmbeddings ? 'model.embed_tokens' : 'lm_head';
  }

  /** Next-token logits [m, vocab] of hidden states [m, hidden]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return this.weights.linear(this.headName, hidden) as tf.Tensor2D;
  }

  /**
   * log softmax(logits / temperature)[target] of each row of hidden states [m, hidden] → [m],
   * differentiable. A plain head goes through `tokenLogProbs` (never a whole [m × vocab] tensor);
   * a head with an adapter or a bias takes the direct route.
   */
  tokenLogProbs(hidden: tf.Tensor2D, targets: readonly number[], temperature = 1): tf.Tensor1D {
    const name = this.headName;
    const plain = !this.weights.adapters.has(name) && !this.weights.variables.has(`${name}.bias`);
    if (plain) return tokenLogProbs(hidden, this.weights.get(`${name}.weight`), targets, temperature);
    return tf.tidy(() => {
      const logits = tf.div(this.logits(hidden), temperature) as tf.Tensor2D;
      const picked = tf.oneHot(tf.tensor1d(targets as number[], 'int32'), logits.shape[1]);
      return tf.sum(tf.mul(logSoftmax(logits), picked), 1) as tf.Tensor1D;
    });
  }

  /** cos/sin [rows, 1, n, headDim]: frequency f rotates by the t, h or w position as mrope_section says. */
  private rotary(positions: [number[][], number[][], number[][]], rows: number, n: number) {
    const inv = this.inverseFrequencies;
    const half = inv.length;
    const [t, h] = this.config.text.mropeSection;
    const stream = Array.from(inv, (_, f) => (f < t ? 0 : f < t + h ? 1 : 2));
    const angles = new Float32Array(rows * n * half);
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < n; i++)
        for (let f = 0; f < half; f++)
          angles[(r * n + i) * half + f] = positions[stream[f]!]![r]![i]! * inv[f]!;
    const { cos, sin } = cosSin(angles, half);
    return { cos: tf.tensor4d(cos, [rows, 1, n, 2 * half]), sin: tf.tensor4d(sin, [rows, 1, n, 2 * half]) };
  }

  /**
   * The additive mask [rows, 1, n, past + n]: new token i (at index past + i) sees keys up to
   * itself that are not padding; null when that is every key (one new token, no padding).
   */
  private mask(keyMask: number[][], n: number, past: number): tf.Tensor4D | null {
    const rows = keyMask.length;
    const length = past + n;
    if (n === 1 && keyMask.every((row) => row.every(Boolean))) return null;
    const data = new Float32Array(rows * n * length);
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < length; j++)
          if (j > past + i || !keyMask[r]![j]) data[(r * n + i) * length + j] = masked;
    return tf.tensor4d(data, [rows, 1, n, length]);
  }

  /**
   * Layer i as one op whose backward pass recomputes it: tfjs records no op run inside a custom
   * gradient's forward function, so the tape keeps the layer's input and nothing else; the
   * gradient function reruns the layer under `tf.grads` for the input's and the layer's
   * trainable weights' gradients (those weights are the op's inputs, so training sees them).
   */
  private recomputedLayer(
    i: number,
    x: tf.Tensor,
    cos: tf.Tensor,
    sin: tf.Tensor,
    mask: tf.Tensor | null,
  ): tf.Tensor {
    const p = `model.layers.${i}.`;
    const trainable: tf.Variable[] = [];
    for (const [name, v] of this.weights.variables) if (v.trainable && name.startsWith(p)) trainable.push(v);
    for (const [name, { a, b }] of this.weights.adapters)
      if (name.startsWith(p) && this.weights.adaptersOn) trainable.push(a, b);
    const { training, dropoutSeed } = this.weights;
    // The tape keeps what save() is given until the backward pass: the input, and the rotary
    // tables and mask the pass made (its tidy frees the originals).
    const run = (input: tf.Tensor, c: tf.Tensor, s: tf.Tensor, m: tf.Tensor | null) => {
      const before = [this.weights.training, this.weights.dropoutSeed] as const;
      this.weights.training = training;
      this.weights.dropoutSeed = dropoutSeed;
      try {
        return this.layer(i, input, c, s, m).x;
      } finally {
        [this.weights.training, this.weights.dropoutSeed] = before;
      }
    };
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.at(-1) as tf.GradSaveFunc;
      const input = args[0] as tf.Tensor;
      save(mask ? [input, cos, sin, mask] : [input, cos, sin]);
      return {
        value: run(input, cos, sin, mask),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xIn, c, s, m] = saved;
          // A gradient taken inside a backward pass ends by dropping the engine's tape — the
          // outer pass's, which it still has to clean up: put it back.
          const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
          const outer = state.activeTape;
          try {
            return tf.grads((...xs: tf.Tensor[]) => run(xs[0]!, c!, s!, m ?? null))([xIn!, ...trainable], dy);
          } finally {
            state.activeTape = outer;
          }
        },
      };
    }) as (...inputs: tf.Tensor[]) => tf.Tensor;
    return op(x, ...trainable);
  }

  private layer(
    i: number,
    x: tf.Tensor,
    cos: tf.Tensor,
    sin: tf.Tensor,
    mask: tf.Tensor | null,
    pastKeys?: tf.Tensor4D,
    pastValues?: tf.Tensor4D,
  ): { x: tf.Tensor; keys: tf.Tensor4D; values: tf.Tensor4D } {
    const p = `model.layers.${i}`;
    const { numHeads, numKvHeads, headDim, rmsNormEps: eps } = this.config.text;
    const [rows, n] = x.shape as [number, number, number];
    const heads = (y: tf.Tensor, count: number) =>
      tf.transpose(tf.reshape(y, [rows, n, count, headDim]), [0, 2, 1, 3]) as tf.Tensor4D;

    const normed = this.weights.rmsNorm(`${p}.input_layernorm`, x, eps);
    const q = applyRotary(heads(this.weights.linear(`${p}.self_attn.q_proj`, normed), numHeads), cos, sin);
    let keys = applyRotary(
      heads(this.weights.linear(`${p}.self_attn.k_proj`, normed), numKvHeads),
      cos,
      sin,
    ) as tf.Tensor4D;
    let values = heads(this.weights.linear(`${p}.self_attn.v_proj`, normed), numKvHeads);
    if (pastKeys && pastValues) {
      keys = tf.concat([pastKeys, keys], 2);
      values = tf.concat([pastValues, values], 2);
    }
    const attended = attention(q, this.repeatKv(keys), this.repeatKv(values), mask);
    const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [rows, n, numHeads * headDim]);
    const h = tf.add(x, this.weights.linear(`${p}.self_attn.o_proj`, merged));

    const m = this.weights.rmsNorm(`${p}.post_attention_layernorm`, h, eps);
    const gate = this.weights.linear(`${p}.mlp.gate_proj`, m);
    const up = this.weights.linear(`${p}.mlp.up_proj`, m);
    const mlp = this.weights.linear(`${p}.mlp.down_proj`, tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
    return { x: tf.add(h, mlp), keys, values };
  }

  /** [rows, kv, L, d] → [rows, heads, L, d]: query head j reads KV head ⌊j·kv/heads⌋ (repeat_kv). */
  private repeatKv(x: tf.Tensor4D): tf.Tensor4D {
    const { numHeads, numKvHeads } = this.config.text;
    if (numHeads === numKvHeads) return x;
    const kvOf = Array.from({ length: numHeads }, (_, j) => Math.floor((j * numKvHeads) / numHeads));
    return tf.gather(x, tf.tensor1d(kvOf, 'int32'), 1);
  }
}
