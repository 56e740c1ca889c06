/**
 * The seam every model plugs into: a Policy turns (image, prompt) into text and back into
 * log-probabilities. GRPO and SFT only ever talk to this interface; tiny-vlm implements it here,
 * and Qwen2-VL / Qwen2.5-VL will implement it from a local Hugging Face folder.
 *
 * - `prepare` encodes each image once: all G samples of a prompt reuse its vision features.
 * - `sample` decodes with a KV cache; per-token log-probs are of the temperature-scaled
 *   distribution (as TRL computes them); top-p only narrows what can be drawn.
 * - `logProbs` recomputes per-token log-probs of given completions, differentiable w.r.t.
 *   `trainableVariables()` — call it inside the optimiser's loss function. With adapters off
 *   (`withAdapters(false, …)`) it is the reference policy of a LoRA run.
 * - `save` writes a model folder the policy loads back (and, for Qwen, transformers); with `merge`
 *   LoRA adapters are folded into the weights they sit on, so the folder is a plain model. `frame` says
 *   which coordinate frame the model's answers use and `inputSize` the size it sees an image at
 *   (rewards convert from both); `prompts` are the family's own task prompts.
 * - A training checkpoint keeps what training changes: `saveCheckpointWeights` /
 *   `loadCheckpointWeights` (all of tiny-vlm's weights; a Qwen LoRA run's adapters, as PEFT).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Size } from '../../shared/boxes';
import type { Frame } from '../rewards/frames';
import type { TaskPrompts } from './prompts';
import type { TensorMap } from './safetensors';

export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 bytes, row-major RGB. */
  rgb: Uint8Array;
}

export interface PromptInput {
  image: RgbImage;
  /** The task text, already in the model's own prompt template. */
  prompt: string;
  /**
   * The prompt is the model's whole input as given (its image placeholder included), not wrapped
   * in the model's chat template.
   */
  raw?: boolean;
  /**
   * Training only, for a policy with a patch classifier (tiny-vlm in pretraining): the class of
   * each image patch, row by row. `logProbs` then also returns the classifier's loss.
   */
  patchLabels?: number[];
  /**
   * Training only, with `patchLabels`, for a policy with a patch box head: the box of the shape
   * each patch lies on ([x1, y1, x2, y2] on 0–1000), null for the background. The loss `logProbs`
   * returns then also has the head's (`patchBoxLoss`).
   */
  patchBoxes?: (readonly number[] | null)[];
}

export interface Prepared {
  readonly count: number;
  dispose(): void;
}

export interface SampleOptions {
  /** Samples per prompt (G). */
  n: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
}

export interface Sample {
  promptIndex: number;
  /** Completion tokens, through the end token when there is one. */
  tokenIds: number[];
  text: string;
  /** log π(token) per completion token, of the temperature-scaled distribution. */
  logProbs: number[];
  /** Entropy of the sampling distribution at each completion token (nats). */
  entropies: number[];
  /** True when the limit cut it off before the end token. */
  truncated: boolean;
}

export interface CompletionRef {
  promptIndex: number;
  tokenIds: number[];
}

/** LoRA adapters, PEFT's fields under vrft's names (train/config.ts reads PEFT's own). */
export interface LoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  /**
   * PEFT's target_modules: module names (a layer is targeted when its name is one or ends with
   * `.name`), 'all-linear', or a regular expression the whole module path must match; the
   * language model's linear layers when absent.
   */
  targetModules?: string[] | string;
}

/** What training needs of a policy's tokenizer (tiny-vlm's TextTokenizer; Qwen's BPE). */
export interface PolicyTokenizer {
  /** The token that ends an answer (Qwen: `<|im_end|>`). */
  readonly eos: number;
  readonly pad: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

export interface SaveOptions {
  /** Fold LoRA adapters into their weights (W + scale·B·A) and save a model without adapters. */
  merge?: boolean;
}

export type PolicyKind = 'tiny-vlm' | 'qwen2-vl' | 'qwen2.5-vl';

/** What a worker thread needs to build the same policy (data-parallel SFT). */
export interface PolicyReplica {
  kind: PolicyKind;
  /** The family's own description (config, tokenizer), structured-cloneable. */
  spec: unknown;
  /** Every weight, frozen ones too. */
  weights: TensorMap;
}

export interface Policy {
  readonly kind: PolicyKind;
  readonly frame: Frame;
  readonly tokenizer: PolicyTokenizer;
  readonly prompts: TaskPrompts;
  /** The size the model sees an image of this size at (its resized input). */
  inputSize(image: Size): Size;
  prepare(batch: PromptInput[]): Prepared;
  /** n samples per prompt, grouped: all of prompt 0's first. */
  sample(prepared: Prepared, options: SampleOptions): Sample[];
  /**
   * Per-token log-probs [completions, maxLength] of each completion (0 past its end) and the mask
   * [completions, maxLength] of real tokens; `temperature` divides the logits first. With
   * `patchLabels` prepared, also the patch classifier's mean cross-entropy over those patches; with
   * `patchBoxes`, also the box head's over the edges of the patches on shapes.
   */
  logProbs(
    prepared: Prepared,
    completions: CompletionRef[],
    temperature?: number,
  ): { logProbs: tf.Tensor2D; mask: tf.Tensor2D; patchLoss?: tf.Scalar; patchBoxLoss?: tf.Scalar };
  trainableVariables(): tf.Variable[];
  /** The trainable weights by their checkpoint names: what the optimiser updates and keeps moments of. */
  trainableWeights(): Map<string, tf.Variable>;
  /** Assigns weights by checkpoint name (a subset is fine); an unknown name or shape is an error. */
  loadWeights(tensors: TensorMap): void;
  saveCheckpointWeights(dir: string): void;
  loadCheckpointWeights(dir: string): void;
  /** A copy for a worker thread, when the family supports data-parallel training. */
  replica?(): PolicyReplica;
  /** Runs fn with LoRA adapters on or off (off: the base model, the reference of a LoRA run). */
  withAdapters<T>(on: boolean, fn: () => T): T;
  save(dir: string, metadata?: Record<string, string>, options?: SaveOptions): void;
  dispose(): void;
}
