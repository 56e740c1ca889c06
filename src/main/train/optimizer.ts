/**
 * AdamW (decoupled weight decay, bias-corrected moments), global-norm gradient clipping and the
 * learning-rate schedule: linear warm-up, then linear or cosine decay to zero (or constant).
 * The optimiser's state is plain tensors by name, so a checkpoint restores it exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { TensorMap } from '../models/safetensors';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Matrices decay; biases, norms, embeddings of positions and LoRA-free vectors do not (as HF Trainer). */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && !/\.ln_|norm|bias|pos_embed|embed_positions/.test(name);
}

export class AdamW {
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step++;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, g] of grads) {
        const p = this.params.get(name)!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps));
        const decayed = decays(name, p.shape) && this.weightDecay ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  state(): TensorMap {
    const out: TensorMap = new Map();
    for (const [kind, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of map)
        out.set(`${kind}.${name}`, { shape: t.shape, data: t.dataSync() as Float32Array });
    }
    return out;
  }

  load(state: TensorMap, step: number): void {
    this.step = step;
    for (const [key, t] of state) {
      const [kind, ...rest] = key.split('.');
      const target = (kind === 'm' ? this.m : this.v).get(rest.join('.'));
      if (!target) throw new Error(`optimizer state has ${key}, which this model does not`);
      target.assign(tf.tensor(t.data as Float32Array, t.shape));
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = Math.sqrt(
    tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]!),
  );
  if (!(maxNorm > 0) || norm <= maxNorm || !Number.isFinite(norm)) return { grads, norm };
  const scale = maxNorm / (norm + 1e-6);
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    clipped.set(name, tf.mul(g, scale));
    g.dispose();
  }
  return { grads: clipped, norm };
}

export interface Schedule {
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  kind: 'linear' | 'cosine' | 'constant';
}

/**
 * The learning rate of (1-based) optimiser step `step`, as transformers' get_*_schedule_with_warmup
 * compute it for k = step − 1 scheduler steps taken: k/warmup during warm-up, then
 * (total − k)/(total − warmup) or the half cosine of the same progress.
 */
export function learningRate(step: number, s: Schedule): number {
  const k = step - 1;
  if (k < s.warmupSteps) return (s.lr * k) / Math.max(1, s.warmupSteps);
  if (s.kind === 'constant') return s.lr;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  if (s.kind === 'cosine')
    return s.lr * Math.max(0, 0.5 * (1 + Math.cos((Math.PI * (k - s.warmupSteps)) / span)));
  return s.lr * Math.max(0, (s.totalSteps - k) / span);
}
