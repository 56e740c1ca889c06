/**
 * tiny-vlm: a small vision-language model of the same shape as the real ones, readable top to
 * bottom. An image → patch tokens (a linear patch embedding, or a small convolutional stem) and a
 * small bidirectional encoder → image tokens in front of a causal decoder that writes
 * `<think>…</think><answer>…</answer>`.
 *
 *   image ─ vision.patch_embed | vision.stem.* ─ + vision.pos_embed ─ vision.blocks.* ─ vision.ln_post ─┐
 *   prompt + answer ids ─ decoder.embed_tokens (+ fixed number encoding) ───────────────────────────────┴─ concat
 *     ─ + decoder.embed_positions ─ decoder.layers.* (causal) ─ decoder.ln_f ─ logits (tied to the embedding)
 *
 * Weights are `[in, out]` matrices named like the architecture (`decoder.layers.0.attn.q_proj.weight`).
 * Integers 0–1000 are single tokens; their embedding adds a fixed sinusoidal code of the value, so
 * neighbouring coordinates start out alike and the tied output head scores near misses as near.
 * Pretraining also trains two heads on the image tokens that generation never uses (see config.ts):
 * `vision.patch_head.*` (which shape a patch lies on) and `vision.box_head.*` (that shape's box).
 * LoRA adapters (`….lora_A`, `….lora_B`, B zero-initialised) sit beside the attention and MLP
 * weights when configured; `setAdapters(false)` gives the base model (the GRPO reference).
 */
import * as tf from '@tensorflow/tfjs';
import { gelu, layerNorm } from '../../engine/fused';
import { numberEncoding, patchPositionCode } from './codes';
import { convStemLayers, hasConvStem, patchCount, patchDim, type TinyVlmConfig } from './config';

export const loraTargets = ['attn.q_proj', 'attn.k_proj', 'attn.v_proj', 'attn.o_proj', 'mlp.fc', 'mlp.proj'];

/** The key/value cache of one decoding batch: per layer [rows, heads, length, headDim]. */
export interface KvCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  length: number;
}

let instances = 0;

export class TinyVlm {
  /** tfjs variable names are global: each model's carry its own suffix. */
  private readonly instance = instances++;
  readonly weights = new Map<string, tf.Variable>();
  private adaptersOn = true;
  private readonly numberCode: tf.Tensor2D;
  private readonly patchCode: tf.Tensor2D;
  private readonly masks = new Map<number, tf.Tensor2D>();
  /** With the patch box head: the token of each value 0–1000, in value order. */
  private readonly numberTokens: tf.Tensor1D | null = null;

  constructor(
    readonly config: TinyVlmConfig,
    seed = 0,
  ) {
    const { dModel: d, mlpRatio, nLayers, visionLayers, vocabSize, maxPositions } = config;
    let s = seed;
    const normal = (shape: number[], std: number) => tf.randomNormal(shape, 0, std, 'float32', s++);
    const add = (name: string, value: tf.Tensor, trainable = true) =>
      this.weights.set(name, tf.variable(value, trainable, `${name}#${this.instance}`));
    const block = (prefix: string, layers: number) => {
      const residualStd = 0.02 / Math.sqrt(2 * Math.max(1, layers));
      add(`${prefix}.ln_1.weight`, tf.ones([d]));
      add(`${prefix}.ln_1.bias`, tf.zeros([d]));
      for (const p of ['q_proj', 'k_proj', 'v_proj']) {
        add(`${prefix}.attn.${p}.weight`, normal([d, d], 0.02));
        add(`${prefix}.attn.${p}.bias`, tf.zeros([d]));
      }
      add(`${prefix}.attn.o_proj.weight`, normal([d, d], residualStd));
      add(`${prefix}.attn.o_proj.bias`, tf.zeros([d]));
      add(`${prefix}.ln_2.weight`, tf.ones([d]));
      add(`${prefix}.ln_2.bias`, tf.zeros([d]));
      add(`${prefix}.mlp.fc.weight`, normal([d, d * mlpRatio], 0.02));
      add(`${prefix}.mlp.fc.bias`, tf.zeros([d * mlpRatio]));
      add(`${prefix}.mlp.proj.weight`, normal([d * mlpRatio, d], residualStd));
      add(`${prefix}.mlp.proj.bias`, tf.zeros([d]));
    };
    if (hasConvStem(config)) {
      // Weights as im2col matrices [kernel²·in, out]; variance 1/(3·fan-in), PyTorch's default.
      let channels = 3;
      convStemLayers(config).forEach(([k, , , out], i) => {
        add(
          `vision.stem.${i}.weight`,
          normal([k * k * channels, out], Math.sqrt(1 / (3 * k * k * channels))),
        );
        add(`vision.stem.${i}.bias`, tf.zeros([out]));
        channels = out;
      });
    } else {
      // Xavier-like, so patch content is not drowned by the fixed position code it is added to.
      add('vision.patch_embed.weight', normal([patchDim(config), d], Math.sqrt(2 / (patchDim(config) + d))));
      add('vision.patch_embed.bias', tf.zeros([d]));
    }
    // Learned on top of a fixed 2-D sin-cos code of each patch's place (patchPositionCode).
    add('vision.pos_embed', tf.zeros([patchCount(config), d]));
    for (let i = 0; i < visionLayers; i++) block(`vision.blocks.${i}`, visionLayers);
    add('vision.ln_post.weight', tf.ones([d]));
    add('vision.ln_post.bias', tf.zeros([d]));
    if (config.patchClassTokens) {
      add('vision.patch_head.background', normal([d, 1], 0.02));
      add('vision.patch_head.bias', tf.zeros([1 + config.patchClassTokens.length]));
    }
    if (config.patchBoxHead) {
      add('vision.box_head.weight', normal([d, 4 * d], 0.02));
      add('vision.box_head.bias', tf.zeros([4 * d]));
      const byValue = new Int32Array(1001).fill(-1);
      config.numberValues.forEach((value, id) => value >= 0 && (byValue[value] = id));
      if (byValue.includes(-1)) throw new Error('the patch box head needs a token for every integer 0–1000');
      this.numberTokens = tf.keep(tf.tensor1d(byValue, 'int32'));
    }
    add('decoder.embed_tokens.weight', normal([vocabSize, d], 0.02));
    add('decoder.embed_positions.weight', normal([maxPositions, d], 0.02));
    for (let i = 0; i < nLayers; i++) block(`decoder.layers.${i}`, nLayers);
    add('decoder.ln_f.weight', tf.ones([d]));
    add('decoder.ln_f.bias', tf.zeros([d]));
    if (config.lora) this.addAdapters(config.lora.rank, seed + 1000);
    this.numberCode = numberEncoding(config);
    this.patchCode = patchPositionCode(config);
  }

  /** LoRA adapters on every attention and MLP weight; only they are trainable afterwards. */
  addAdapters(rank: number, seed: number): void {
    let s = seed;
    for (const [name, w] of [...this.weights]) {
      if (!loraTargets.some((t) => name.endsWith(`${t}.weight`))) continue;
      const [inDim, outDim] = w.shape as [number, number];
      const base = name.slice(0, -'.weight'.length);
      this.weights.set(
        `${base}.lora_A`,
        tf.variable(
          tf.randomNormal([inDim, rank], 0, 1 / rank, 'float32', s++),
          true,
          `${base}.lora_A#${this.instance}`,
        ),
      );
      this.weights.set(
        `${base}.lora_B`,
        tf.variable(tf.zeros([rank, outDim]), true, `${base}.lora_B#${this.instance}`),
      );
    }
    for (const [name, w] of this.weights) w.trainable = name.includes('.lora_');
  }

  /** Adapters off gives the base model: the reference policy of a LoRA run. */
  setAdapters(on: boolean): void {
    this.adaptersOn = on;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.weights.values()].filter((w) => w.trainable);
  }

  private w(name: string): tf.Variable {
    const v = this.weights.get(name);
    if (!v) throw new Error(`tiny-vlm has no weight ${name}`);
    return v;
  }

  /** x [N, in] · W [in, out] + b, plus the LoRA update (x·A)·B·(α/r) when adapters are on. */
  private linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    let y = tf.add(tf.matMul(x, this.w(`${name}.weight`)), this.w(`${name}.bias`)) as tf.Tensor2D;
    const a = this.weights.get(`${name}.lora_A`);
    if (a && this.adaptersOn && this.config.lora) {
      const scale = this.config.lora.alpha / this.config.lora.rank;
      y = tf.add(y, tf.mul(tf.matMul(tf.matMul(x, a), this.w(`${name}.lora_B`)), scale));
    }
    return y;
  }

  private layerNorm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return layerNorm(x, this.w(`${name}.weight`), this.w(`${name}.bias`));
  }

  private mlp(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return this.linear(gelu(this.linear(x, `${prefix}.mlp.fc`)), `${prefix}.mlp.proj`);
  }

  /** Splits [rows·len, d] into heads: [rows, heads, len, headDim]. */
  private heads(x: tf.Tensor2D, rows: number, len: number): tf.Tensor4D {
    const { nHeads, dModel } = this.config;
    return tf.transpose(tf.reshape(x, [rows, len, nHeads, dModel / nHeads]), [0, 2, 1, 3]);
  }

  private mergeHeads(x: tf.Tensor4D, rows: number, len: number): tf.Tensor2D {
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [rows * len, this.config.dModel]);
  }

  /** Attention of queries [rows, heads, q, hd] over keys/values [rows, heads, k, hd]; mask [q, k] or none. */
  private attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D | null): tf.Tensor4D {
    const headDim = this.config.dModel / this.config.nHeads;
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim));
    if (mask) scores = tf.add(scores, mask);
    return tf.matMul(tf.softmax(scores), v);
  }

  /** One pre-LN transformer block over [rows, len, d] (flattened to [rows·len, d]). */
  private block(
    x: tf.Tensor2D,
    prefix: string,
    rows: number,
    len: number,
    mask: tf.Tensor2D | null,
  ): tf.Tensor2D {
    const h = this.layerNorm(x, `${prefix}.ln_1`);
    const q = this.heads(this.linear(h, `${prefix}.attn.q_proj`), rows, len);
    const k = this.heads(this.linear(h, `${prefix}.attn.k_proj`), rows, len);
    const v = this.heads(this.linear(h, `${prefix}.attn.v_proj`), rows, len);
    const attn = this.linear(this.mergeHeads(this.attend(q, k, v, mask), rows, len), `${prefix}.attn.o_proj`);
    const x2 = tf.add(x, attn) as tf.Tensor2D;
    return tf.add(x2, this.mlp(this.layerNorm(x2, `${prefix}.ln_2`), prefix)) as tf.Tensor2D;
  }

  /**
   * Image patches [rows, P, patchDim] → image tokens [rows·P, d]. With the convolutional stem the
   * same numbers are the image's pixels row by row (imagePatches lays them out so).
   */
  encodeImages(patches: tf.Tensor3D): tf.Tensor2D {
    const [rows, count, dim] = patches.shape;
    let x = hasConvStem(this.config)
      ? this.convStem(tf.reshape(patches, [rows * count * (dim / 3), 3]), rows)
      : this.linear(tf.reshape(patches, [rows * count, dim]), 'vision.patch_embed');
    const position = tf.add(this.w('vision.pos_embed'), this.patchCode);
    x = tf.reshape(tf.add(tf.reshape(x, [rows, count, -1]), position), [rows * count, -1]);
    for (let i = 0; i < this.config.visionLayers; i++)
      x = this.block(x, `vision.blocks.${i}`, rows, count, null);
    return this.layerNorm(x, 'vision.ln_post');
  }

  /** The patch classifier's logits [tokens, 1 + classes] for vision tokens [tokens, d]. */
  patchLogits(imageTokens: tf.Tensor2D): tf.Tensor2D {
    const words = tf.gather(this.tokenTable(), tf.tensor1d(this.config.patchClassTokens!, 'int32'));
    const classes = tf.concat([this.w('vision.patch_head.background'), tf.transpose(words)], 1);
    return tf.add(tf.matMul(imageTokens, classes), this.w('vision.patch_head.bias'));
  }

  /**
   * The patch box head's logits [tokens·4, 1001] for vision tokens [tokens, d]: per token, its
   * shape's x1, y1, x2, y2 (rows in that order), each scored over the values 0–1000 (column = value)
   * by the number tokens' embeddings, the ones the answers write.
   */
  patchBoxLogits(imageTokens: tf.Tensor2D): tf.Tensor2D {
    const edges = tf.reshape(this.linear(imageTokens, 'vision.box_head'), [-1, this.config.dModel]);
    return tf.matMul(edges, tf.gather(this.tokenTable(), this.numberTokens!), false, true);
  }

  /**
   * The convolutional stem over pixels [rows·H·W, 3] → [rows·P, d], one token per patch in
   * row-major order. Weights are stored as [kernel²·in, out] (the im2col layout, the same memory
   * as tf.conv2d's [kernel, kernel, in, out] filter).
   */
  convStem(pixels: tf.Tensor2D, rows: number): tf.Tensor2D {
    const layers = convStemLayers(this.config);
    const side = this.config.imageSize;
    let x = tf.reshape(pixels, [rows, side, side, 3]) as tf.Tensor4D;
    layers.forEach(([k, stride, pad, out], i) => {
      const filter = tf.reshape(this.w(`vision.stem.${i}.weight`), [k, k, x.shape[3], out]) as tf.Tensor4D;
      x = tf.add(tf.conv2d(x, filter, stride, pad), this.w(`vision.stem.${i}.bias`));
      if (i < layers.length - 1) x = gelu(x);
    });
    return tf.reshape(x, [rows * patchCount(this.config), this.config.dModel]);
  }

  /** The token embedding with the fixed number code added: [vocab, d]. Also the output head. */
  private tokenTable(): tf.Tensor2D {
    return tf.add(this.w('decoder.embed_tokens.weight'), this.numberCode);
  }

  private causalMask(len: number): tf.Tensor2D {
    let mask = this.masks.get(len);
    if (!mask) {
      const data = new Float32Array(len * len);
      for (let i = 0; i < len; i++) for (let j = i + 1; j < len; j++) data[i * len + j] = -1e9;
      mask = tf.keep(tf.tensor2d(data, [len, len]));
      this.masks.set(len, mask);
    }
    return mask;
  }

  /**
   * Teacher-forced forward pass. `imageTokens` [rows·P, d] (from encodeImages), `tokens` [rows, L]
   * int32 (prompt + answer, right-padded), `targetRows` int32 indices into the rows·(P+L) sequence
   * positions whose next-token logits are wanted. Returns logits [targets, vocab].
   */
  forward(imageTokens: tf.Tensor2D, tokens: tf.Tensor2D, targetRows: tf.Tensor1D): tf.Tensor2D {
    const [rows, len] = tokens.shape;
    const P = patchCount(this.config);
    const S = P + len;
    if (S > this.config.maxPositions)
      throw new Error(`sequence of ${S} positions is longer than the model's ${this.config.maxPositions}`);
    const table = this.tokenTable();
    const text = tf.reshape(tf.gather(table, tf.reshape(tokens, [-1])), [rows, len, -1]);
    let x = tf.concat([tf.reshape(imageTokens, [rows, P, -1]), text], 1);
    x = tf.add(x, tf.slice(this.w('decoder.embed_positions.weight'), [0, 0], [S, -1]));
    let h = tf.reshape(x, [rows * S, -1]) as tf.Tensor2D;
    const mask = this.causalMask(S);
    for (let i = 0; i < this.config.nLayers; i++) h = this.block(h, `decoder.layers.${i}`, rows, S, mask);
    h = this.layerNorm(tf.gather(h, targetRows), 'decoder.ln_f');
    return tf.matMul(h, table, false, true);
  }

  /**
   * Runs image tokens + prompt through the decoder once and returns the cache and the logits of
   * the last position [rows, vocab]. Rows share nothing; all have the same prompt length.
   */
  prefill(imageTokens: tf.Tensor2D, prompt: tf.Tensor2D): { cache: KvCache; logits: tf.Tensor2D } {
    const [rows, len] = prompt.shape;
    const P = patchCount(this.config);
    const S = P + len;
    const table = this.tokenTable();
    const text = tf.reshape(tf.gather(table, tf.reshape(prompt, [-1])), [rows, len, -1]);
    let x = tf.concat([tf.reshape(imageTokens, [rows, P, -1]), text], 1);
    x = tf.add(x, tf.slice(this.w('decoder.embed_positions.weight'), [0, 0], [S, -1]));
    let h = tf.reshape(x, [rows * S, -1]) as tf.Tensor2D;
    const mask = this.causalMask(S);
    const keys: tf.Tensor4D[] = [];
    const values: tf.Tensor4D[] = [];
    for (let i = 0; i < this.config.nLayers; i++) {
      const prefix = `decoder.layers.${i}`;
      const n = this.layerNorm(h, `${prefix}.ln_1`);
      const q = this.heads(this.linear(n, `${prefix}.attn.q_proj`), rows, S);
      const k = this.heads(this.linear(n, `${prefix}.attn.k_proj`), rows, S);
      const v = this.heads(this.linear(n, `${prefix}.attn.v_proj`), rows, S);
      keys.push(k);
      values.push(v);
      const attn = this.linear(this.mergeHeads(this.attend(q, k, v, mask), rows, S), `${prefix}.attn.o_proj`);
      const h2 = tf.add(h, attn) as tf.Tensor2D;
      h = tf.add(h2, this.mlp(this.layerNorm(h2, `${prefix}.ln_2`), prefix)) as tf.Tensor2D;
    }
    const last = tf.gather(h, tf.range(S - 1, rows * S, S, 'int32')) as tf.Tensor2D;
    const logits = tf.matMul(this.layerNorm(last, 'decoder.ln_f'), table, false, true) as tf.Tensor2D;
    return { cache: { keys, values, length: S }, logits };
  }

  /** One decoding step for every row: `tokens` [rows] at position cache.length → logits [rows, vocab]. */
  step(cache: KvCache, tokens: tf.Tensor1D): { cache: KvCache; logits: tf.Tensor2D } {
    const rows = tokens.shape[0];
    const table = this.tokenTable();
    const pos = tf.slice(this.w('decoder.embed_positions.weight'), [cache.length, 0], [1, -1]);
    let h = tf.add(tf.gather(table, tokens), pos) as tf.Tensor2D;
    const keys: tf.Tensor4D[] = [];
    const values: tf.Tensor4D[] = [];
    for (let i = 0; i < this.config.nLayers; i++) {
      const prefix = `decoder.layers.${i}`;
      const n = this.layerNorm(h, `${prefix}.ln_1`);
      const q = this.heads(this.linear(n, `${prefix}.attn.q_proj`), rows, 1);
      const k = tf.concat([cache.keys[i]!, this.heads(this.linear(n, `${prefix}.attn.k_proj`), rows, 1)], 2);
      const v = tf.concat(
        [cache.values[i]!, this.heads(this.linear(n, `${prefix}.attn.v_proj`), rows, 1)],
        2,
      );
      keys.push(k);
      values.push(v);
      const attn = this.linear(this.mergeHeads(this.attend(q, k, v, null), rows, 1), `${prefix}.attn.o_proj`);
      const h2 = tf.add(h, attn) as tf.Tensor2D;
      h = tf.add(h2, this.mlp(this.layerNorm(h2, `${prefix}.ln_2`), prefix)) as tf.Tensor2D;
    }
    const logits = tf.matMul(this.layerNorm(h, 'decoder.ln_f'), table, false, true) as tf.Tensor2D;
    return { cache: { keys, values, length: cache.length + 1 }, logits };
  }

  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
    this.numberCode.dispose();
    this.patchCode.dispose();
    this.numberTokens?.dispose();
    for (const m of this.masks.values()) m.dispose();
  }
}
