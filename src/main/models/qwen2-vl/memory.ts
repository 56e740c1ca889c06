/**
 * How big a Qwen checkpoint is and how much memory a GRPO step of it needs, from config.json alone
 * (QWEN.md §5): for `vrft doctor`, and to refuse a load the backend cannot hold before any
 * weight is read. Everything is float32 — tfjs has no bf16, and vrft computes in f32.
 *
 * Parameters are counted over qwenWeightShapes (every weight the model reads), LoRA adapters over
 * the layers lora.ts would put them on. Activations are an estimate of what one differentiable
 * pass keeps for its backward pass, counting the tensors that dominate (QWEN.md's figures):
 * - per decoder layer and token: the inputs of its two RMSNorms (2 × hidden), the attention
 *   probabilities (heads × sequence length) and the MLP's four intermediates (gate, up,
 *   silu(gate), their product);
 * - with per-layer recomputation (gradientCheckpointing): every layer's input, plus one layer's
 *   activations and as much again for their gradients while its backward pass runs;
 * - not the logits: tokenLogProbs makes them 16 MiB at a time;
 * - the vision tower only when it trains (frozen, each image is encoded once, outside the pass):
 *   per block and patch its input, attention probabilities and MLP intermediates.
 */
import { UserError } from '../../../shared/errors';
import type { LoraConfig } from '../policy';
import type { QwenConfig, QwenFamily, QwenImageProcessorConfig } from './config';
import { linearLayerNames, matchLoraTargets } from './lora';
import { qwenWeightShapes } from './model';
import { smartResize } from './processor';

export const GiB = 2 ** 30;
const f32 = 4;

/** tfjs-backend-wasm's memory is one 32-bit WebAssembly heap: 4 GiB at most (getHeapMax). */
export const wasmHeapBytes = 4 * GiB;
/** What a load on wasm leaves for everything but the weights: images, the KV cache, a pass. */
export const wasmHeadroomBytes = 1 * GiB;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export interface QwenParameterCounts {
  /** The vision tower: patch embedding, blocks and the PatchMerger (`visual.*`). */
  vision: number;
  /** The language model: embeddings, decoder layers, final norm and the head when untied. */
  language: number;
  /** `model.embed_tokens` alone (vocab × hidden). */
  embeddings: number;
  /** `lm_head`'s own weights: 0 when tied to the embeddings. */
  lmHead: number;
  tied: boolean;
  total: number;
}

export function qwenParameterCounts(config: QwenConfig): QwenParameterCounts {
  let vision = 0;
  let language = 0;
  for (const [name, shape] of qwenWeightShapes(config)) {
    if (name.startsWith('visual.')) vision += size(shape);
    else language += size(shape);
  }
  const { vocabSize, hiddenSize, tieWordEmbeddings } = config.text;
  return {
    vision,
    language,
    embeddings: vocabSize * hiddenSize,
    lmHead: tieWordEmbeddings ? 0 : vocabSize * hiddenSize,
    tied: tieWordEmbeddings,
    total: vision + language,
  };
}

export interface LoraParameterCount {
  /** The layers that get adapters (checkpoint names). */
  layers: string[];
  /** r·(in + out) over those layers: A [r, in] and B [out, r]. */
  parameters: number;
}

/** The adapters a LoRA config adds, matched as lora.ts matches them on a loaded model. */
export function loraParameterCount(config: QwenConfig, lora: LoraConfig): LoraParameterCount {
  const shapes = qwenWeightShapes(config);
  const layers = matchLoraTargets(linearLayerNames(shapes), lora);
  let parameters = 0;
  for (const layer of layers) {
    const [outDim, inDim] = shapes.get(`${layer}.weight`)!;
    parameters += lora.rank * (inDim! + outDim!);
  }
  return { layers, parameters };
}

/**
 * The prompt tokens besides the image pads — chat template with its default system message, and
 * the family's detection prompt for a one-word category — as the Qwen tokenizer counts them
 * (a unit test checks these against the tokenizer).
 */
export const detectionPromptTokens: Record<QwenFamily, number> = { 'qwen2-vl': 161, 'qwen2.5-vl': 113 };

/** `<|image_pad|>` tokens of an image: one per merged block of the size smart_resize gives it. */
export function imageTokenCount(
  image: { width: number; height: number },
  processor: Pick<QwenImageProcessorConfig, 'patchSize' | 'mergeSize' | 'minPixels' | 'maxPixels'>,
): number {
  const { patchSize: p, mergeSize: m } = processor;
  const resized = smartResize(image.height, image.width, p * m, processor.minPixels, processor.maxPixels);
  return ((resized.height / p) * (resized.width / p)) / (m * m);
}

export interface GrpoMemoryOptions {
  promptsPerStep: number;
  numGenerations: number;
  /** Every completion is taken at this length: the pass pads to the longest. */
  maxCompletionLength: number;
  /** `<|image_pad|>` tokens of each prompt's image (imageTokenCount). */
  imageTokens: number;
  /** The prompt's other tokens (template and task text); detectionPromptTokens when absent. */
  promptTextTokens?: number;
  lora: LoraConfig | null;
  freezeVisionTower: boolean;
  gradientCheckpointing: boolean;
  /** GRPO's KL weight: full fine-tuning with β > 0 keeps a frozen copy of the model as the reference. */
  beta: number;
}

export interface GrpoMemory {
  /** What one pass sees: rows × (prompt + completion) tokens. */
  sequence: {
    rows: number;
    promptTokens: number;
    imageTokens: number;
    completionTokens: number;
    tokens: number;
  };
  parameters: QwenParameterCounts;
  /** Trainable parameters: the adapters with LoRA, else the language model (and the vision tower if it trains). */
  trainableParameters: number;
  visionTrains: boolean;
  /** Bytes, float32. */
  weights: number;
  /** The frozen reference copy of full fine-tuning with β > 0; 0 otherwise. */
  referenceWeights: number;
  /** The adapters themselves (LoRA), the trainable weights' gradients and AdamW's two moments. */
  training: number;
  activations: {
    /** Everything the pass keeps, no recomputation. */
    full: number;
    /** With per-layer recomputation (gradientCheckpointing). */
    recomputed: number;
    /** Part of both: the vision tower's, when it trains. */
    vision: number;
  };
  /** weights + reference + training + activations, without and with recomputation. */
  total: { full: number; recomputed: number };
  /** The total as configured (gradientCheckpointing picks which). */
  needed: number;
}

/** The memory one GRPO step of this model and config needs (see the file's comment for what is counted). */
export function grpoStepMemory(config: QwenConfig, options: GrpoMemoryOptions): GrpoMemory {
  const parameters = qwenParameterCounts(config);
  const t = config.text;
  const rows = options.promptsPerStep * options.numGenerations;
  const promptTokens =
    options.imageTokens + (options.promptTextTokens ?? detectionPromptTokens[config.family]);
  const tokens = promptTokens + options.maxCompletionLength;

  const adapters = options.lora ? loraParameterCount(config, options.lora) : undefined;
  const visionTrains = adapters
    ? adapters.layers.some((layer) => layer.startsWith('visual.'))
    : !options.freezeVisionTower;
  const trainableParameters = adapters
    ? adapters.parameters
    : parameters.language + (visionTrains ? parameters.vision : 0);
  // LoRA adds the adapters as weights of their own; full fine-tuning's weights are counted already.
  const training = trainableParameters * f32 * (adapters ? 4 : 3);

  const perLayerToken = 2 * t.hiddenSize + t.numHeads * tokens + 4 * t.intermediateSize;
  const oneLayer = rows * tokens * perLayerToken * f32;
  const vision = visionTrains ? options.promptsPerStep * visionActivations(config, options.imageTokens) : 0;
  const full = t.numLayers * oneLayer + vision;
  const layerInputs = t.numLayers * rows * tokens * t.hiddenSize * f32;
  const recomputed = layerInputs + 2 * oneLayer + vision;

  const weights = parameters.total * f32;
  const referenceWeights = !adapters && options.beta > 0 ? weights : 0;
  const fixed = weights + referenceWeights + training;
  const total = { full: fixed + full, recomputed: fixed + recomputed };
  return {
    sequence: {
      rows,
      promptTokens,
      imageTokens: options.imageTokens,
      completionTokens: options.maxCompletionLength,
      tokens,
    },
    parameters,
    trainableParameters,
    visionTrains,
    weights,
    referenceWeights,
    training,
    activations: { full, recomputed, vision },
    total,
    needed: options.gradientCheckpointing ? total.recomputed : total.full,
  };
}

/** Bytes the vision tower keeps for its backward pass over one image of `imageTokens` merged tokens. */
function visionActivations(config: QwenConfig, imageTokens: number): number {
  const v = config.vision;
  const patches = imageTokens * v.spatialMergeSize ** 2;
  // Qwen2-VL: fc1's output and its GELU; Qwen2.5-VL: gate, up, silu(gate) and their product.
  const mlp = (config.family === 'qwen2-vl' ? 2 : 4) * v.intermediateSize;
  // Qwen2.5-VL's window blocks attend within windows of (window / patch)² patches.
  const window = v.windowSize ? Math.min(patches, (v.windowSize / v.patchSize) ** 2) : patches;
  let floats = 0;
  for (let block = 0; block < v.depth; block++) {
    const full = !v.fullAttBlockIndexes || v.fullAttBlockIndexes.includes(block);
    floats += patches * (v.hiddenSize + v.numHeads * (full ? patches : window) + mlp);
  }
  return floats * f32;
}

/**
 * Refuses, before anything is read, a checkpoint whose float32 weights the wasm backend cannot
 * hold (its heap is 4 GiB; vrft keeps 1 GiB of it to run); other backends are not capped here.
 */
export function checkBackendHolds(config: QwenConfig, backend: string, dir: string): void {
  if (backend !== 'wasm') return;
  const { total } = qwenParameterCounts(config);
  const bytes = total * f32;
  if (bytes <= wasmHeapBytes - wasmHeadroomBytes) return;
  throw new UserError(
    'unavailable',
    `${dir}: ${config.modelType} with ${formatCount(total)} parameters needs ${formatGiB(bytes)} for its ` +
      `float32 weights, more memory than the wasm backend has (${formatGiB(wasmHeapBytes)} in all, ` +
      `${formatGiB(wasmHeadroomBytes)} of it kept to run). Install a native backend in the vrft folder: ` +
      'npm install @tensorflow/tfjs-node (CPU) or npm install @tensorflow/tfjs-node-gpu (NVIDIA GPU); ' +
      `vrft doctor --model ${dir} says what a training step needs.`,
  );
}

/** 8.2 GiB; 512 MiB under one GiB. */
export function formatGiB(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** 1.544 B, 665.3 M, 73.9 M, 9.7 K. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(3)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}
