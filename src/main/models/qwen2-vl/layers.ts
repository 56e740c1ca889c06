/**
 * What the Qwen vision tower and language model share: the weights, held as tf.Variables named
 * exactly as the checkpoint's keys (`model.layers.0.self_attn.q_proj.weight`), the one `linear`
 * every projection goes through (where LoRA adapters attach), the norms, rotary embedding and
 * attention. Weights keep PyTorch's [out, in] layout, so a checkpoint loads — and saves — as a loop.
 */
import { layerNorm as fusedLayerNorm } from '../../engine/fused';
import { tf } from '../../engine/tf';
import type { TensorMap } from '../safetensors';

/**
 * A LoRA adapter on one linear layer, in PEFT's layout: A [r, in], B [out, r]; the layer becomes
 * y = x·Wᵀ + b + (x·Aᵀ)·Bᵀ·scale with scale = lora_alpha / r.
 */
export interface LoraAdapter {
  a: tf.Variable;
  b: tf.Variable;
  scale: number;
  /** lora_dropout: the rate at which the adapter's input is dropped while `training`. */
  dropout?: number;
}

let instances = 0;

export class QwenWeights {
  /** tfjs variable names are global: each model's carry a suffix of their own (`#qwen<id>`). */
  readonly id = instances++;
  readonly variables = new Map<string, tf.Variable>();
  /** Adapters by layer name (the weight's name less `.weight`); empty until LoRA adds some. */
  readonly adapters = new Map<string, LoraAdapter>();
  adaptersOn = true;
  /** Training mode: adapters apply their dropout. */
  training = false;
  /**
   * Seeds the dropout masks: the same seed draws the same masks, so a layer recomputed in the
   * backward pass (gradient checkpointing) drops what its forward pass dropped. Bump it per pass.
   */
  dropoutSeed = 0;

  /** Base weights are frozen (trainable = false); only adapters train. */
  constructor(tensors: TensorMap) {
    for (const [name, { shape, data }] of tensors) {
      const value = tf.tensor(data, shape, data instanceof Int32Array ? 'int32' : 'float32');
      this.variables.set(name, tf.variable(value, false, `${name}#qwen${this.id}`));
      value.dispose();
    }
  }

  has(name: string): boolean {
    return this.variables.has(name);
  }

  get(name: string): tf.Variable {
    const v = this.variables.get(name);
    if (!v) throw new Error(`the checkpoint has no weight ${name}`);
    return v;
  }

  /**
   * nn.Linear: x [..., in] → x·Wᵀ + b [..., out], W [out, in] as stored; the bias where the
   * checkpoint has one. The LoRA hook: an adapter registered under `name` adds its update.
   */
  linear(name: string, x: tf.Tensor): tf.Tensor {
    const w = this.get(`${name}.weight`);
    const [outDim, inDim] = w.shape as [number, number];
    const shape = x.shape;
    const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]);
    let y: tf.Tensor = tf.matMul(flat, w, false, true);
    const bias = this.variables.get(`${name}.bias`);
    if (bias) y = tf.add(y, bias);
    const adapter = this.adaptersOn ? this.adapters.get(name) : undefined;
    if (adapter) {
      const input =
        this.training && adapter.dropout
          ? tf.dropout(flat, adapter.dropout, undefined, `${this.dropoutSeed}:${name}`)
          : flat;
      const update = tf.matMul(tf.matMul(input, adapter.a, false, true), adapter.b, false, true);
      y = tf.add(y, tf.mul(update, adapter.scale));
    }
    return x.rank === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), outDim]);
  }

  /** RMSNorm in fp32: x·rsqrt(mean(x²) + ε)·w. */
  rmsNorm(name: string, x: tf.Tensor, eps = 1e-6): tf.Tensor {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), this.get(`${name}.weight`));
  }

  /** nn.LayerNorm with weight and bias. */
  layerNorm(name: string, x: tf.Tensor, eps = 1e-6): tf.Tensor {
    return fusedLayerNorm(x, this.get(`${name}.weight`), this.get(`${name}.bias`), eps);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    for (const { a, b } of this.adapters.values()) {
      a.dispose();
      b.dispose();
    }
    this.variables.clear();
    this.adapters.clear();
  }
}

/** rotate_half: cat(−x[d/2:], x[:d/2]) on the last axis. */
function rotateHalf(x: tf.Tensor): tf.Tensor {
  const half = x.shape.at(-1)! / 2;
  const [first, second] = tf.split(x, [half, half], -1);
  return tf.concat([tf.neg(second!), first!], -1);
}

/** Rotary position embedding: x·cos + rotate_half(x)·sin; cos and sin broadcast against x. */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin));
}

/**
 * Inverse frequencies 1/θ^(2i/dim), i < dim/2, rounded to float32 step by step as PyTorch
 * computes them (`1.0 / base ** (arange(0, dim, 2, float32) / dim)`).
 */
export function inverseFrequencies(theta: number, dim: number): Float32Array {
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / dim));
  return inv;
}

/**
 * cos and sin of `angles` [count, half] (already float32 products position·frequency), each
 * doubled along the last axis as `cat(f, f)`: two Float32Arrays [count, 2·half].
 */
export function cosSin(angles: Float32Array, half: number): { cos: Float32Array; sin: Float32Array } {
  const count = angles.length / half;
  const cos = new Float32Array(count * 2 * half);
  const sin = new Float32Array(count * 2 * half);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < half; i++) {
      const a = angles[r * half + i]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[r * 2 * half + i] = c;
      cos[r * 2 * half + half + i] = c;
      sin[r * 2 * half + i] = s;
      sin[r * 2 * half + half + i] = s;
    }
  }
  return { cos, sin };
}

/** A mask value that zeroes a softmax term yet keeps a fully masked row finite (no NaN). */
export const masked = -1e9;

/**
 * Scaled dot-product attention: q [..., Lq, d], k and v [..., Lk, d]; `mask` is added to the
 * scores (0 where allowed, `masked` where not) and broadcasts against [..., Lq, Lk].
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  const scale = 1 / Math.sqrt(q.shape.at(-1)!);
  let scores = tf.mul(tf.matMul(q, k, false, true), scale);
  if (mask) scores = tf.add(scores, mask);
  return tf.matMul(tf.softmax(scores), v);
}
