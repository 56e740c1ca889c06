/**
 * A Qwen2-VL / Qwen2.5-VL `config.json`, in either of its two shapes (QWEN.md §1):
 * - flat (the hub, transformers 4.x): text fields at the top level, `rope_scaling.mrope_section`,
 *   Qwen2-VL's `vision_config.embed_dim` is the ViT width and `vision_config.hidden_size` the LLM's;
 * - nested (transformers 5): `text_config`, `rope_parameters`, `vision_config.in_channels`.
 * Both become one typed QwenConfig, in the checkpoint's own vocabulary where it has one.
 */

export type QwenFamily = 'qwen2-vl' | 'qwen2.5-vl';

export const supportedModelTypes: Record<string, QwenFamily> = {
  qwen2_vl: 'qwen2-vl',
  qwen2_5_vl: 'qwen2.5-vl',
};

export interface QwenTextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** How many rotary frequencies come from the t, h and w position streams; sums to headDim/2. */
  mropeSection: [number, number, number];
  vocabSize: number;
  tieWordEmbeddings: boolean;
}

export interface QwenVisionConfig {
  depth: number;
  /** The ViT width E (Qwen2-VL's `embed_dim`, Qwen2.5-VL's `hidden_size`). */
  hiddenSize: number;
  numHeads: number;
  /** The MLP width: E·mlp_ratio in Qwen2-VL, `intermediate_size` in Qwen2.5-VL. */
  intermediateSize: number;
  /** The merger's output width, the language model's hidden size. */
  outHiddenSize: number;
  patchSize: number;
  temporalPatchSize: number;
  spatialMergeSize: number;
  inChannels: number;
  /** Qwen2.5-VL only: window attention over windows of windowSize pixels (112). */
  windowSize?: number;
  /** Qwen2.5-VL only: the blocks that attend over the whole image. */
  fullAttBlockIndexes?: number[];
  ropeTheta: number;
}

export interface QwenConfig {
  family: QwenFamily;
  modelType: string;
  text: QwenTextConfig;
  vision: QwenVisionConfig;
  imageTokenId: number;
  videoTokenId: number;
  visionStartTokenId: number;
  visionEndTokenId: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads `config.json`'s model_type; anything but a Qwen VL model is an error naming what is. */
export function qwenFamilyOf(json: unknown, file = 'config.json'): QwenFamily {
  const type = isObject(json) ? json.model_type : undefined;
  const family = typeof type === 'string' ? supportedModelTypes[type] : undefined;
  if (!family)
    throw new Error(
      `${file}: model_type ${JSON.stringify(type ?? null)} is not a model vrft can load; ` +
        `supported: ${Object.keys(supportedModelTypes).join(', ')} (and vrft's own tiny-vlm)`,
    );
  return family;
}

export function parseQwenConfig(json: unknown, file = 'config.json'): QwenConfig {
  const family = qwenFamilyOf(json, file);
  const root = json as Json;
  // transformers 5 nests the text fields; the hub's flat files keep them at the top.
  const text = isObject(root.text_config) ? { ...root, ...root.text_config } : root;
  const vision = isObject(root.vision_config) ? root.vision_config : {};
  const num = (from: Json, key: string, fallback?: number): number => {
    const v = from[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (fallback !== undefined) return fallback;
    throw new Error(`${file}: ${key} is missing or not a number`);
  };
  const rope =
    (isObject(text.rope_parameters) ? text.rope_parameters : undefined) ??
    (isObject(text.rope_scaling) ? text.rope_scaling : undefined) ??
    (isObject(root.rope_scaling) ? root.rope_scaling : {});
  const section = rope.mrope_section;
  if (!Array.isArray(section) || section.length !== 3 || !section.every((n) => Number.isInteger(n)))
    throw new Error(`${file}: mrope_section (in rope_scaling or rope_parameters) must be three integers`);

  const numHeads = num(text, 'num_attention_heads');
  const hiddenSize = num(text, 'hidden_size');
  const headDim = num(text, 'head_dim', hiddenSize / numHeads);
  const mropeSection = section as [number, number, number];
  if (mropeSection[0] + mropeSection[1] + mropeSection[2] !== headDim / 2)
    throw new Error(
      `${file}: mrope_section ${JSON.stringify(section)} must sum to head_dim/2 = ${headDim / 2}`,
    );
  const tie = (text.tie_word_embeddings ?? root.tie_word_embeddings) === true;

  const textConfig: QwenTextConfig = {
    hiddenSize,
    intermediateSize: num(text, 'intermediate_size'),
    numLayers: num(text, 'num_hidden_layers'),
    numHeads,
    numKvHeads: num(text, 'num_key_value_heads', numHeads),
    headDim,
    rmsNormEps: num(text, 'rms_norm_eps', 1e-6),
    ropeTheta: num(rope, 'rope_theta', num(text, 'rope_theta', 1e6)),
    mropeSection,
    vocabSize: num(text, 'vocab_size'),
    tieWordEmbeddings: tie,
  };

  const visionWidth = family === 'qwen2-vl' ? num(vision, 'embed_dim') : num(vision, 'hidden_size');
  const visionConfig: QwenVisionConfig = {
    depth: num(vision, 'depth'),
    hiddenSize: visionWidth,
    numHeads: num(vision, 'num_heads'),
    intermediateSize:
      family === 'qwen2-vl' ? visionWidth * num(vision, 'mlp_ratio', 4) : num(vision, 'intermediate_size'),
    outHiddenSize: family === 'qwen2-vl' ? num(vision, 'hidden_size') : num(vision, 'out_hidden_size'),
    patchSize: num(vision, 'patch_size', 14),
    temporalPatchSize: num(vision, 'temporal_patch_size', 2),
    spatialMergeSize: num(vision, 'spatial_merge_size', 2),
    inChannels: num(vision, 'in_channels', num(vision, 'in_chans', 3)),
    ropeTheta: num(vision, 'rope_theta', 10000),
  };
  if (family === 'qwen2.5-vl') {
    visionConfig.windowSize = num(vision, 'window_size', 112);
    const full = vision.fullatt_block_indexes;
    visionConfig.fullAttBlockIndexes = Array.isArray(full) ? full.map(Number) : [7, 15, 23, 31];
  }
  if (visionConfig.outHiddenSize !== hiddenSize)
    throw new Error(
      `${file}: the vision merger's output (${visionConfig.outHiddenSize}) must equal hidden_size`,
    );

  return {
    family,
    modelType: root.model_type as string,
    text: textConfig,
    vision: visionConfig,
    imageTokenId: num(root, 'image_token_id', 151655),
    videoTokenId: num(root, 'video_token_id', 151656),
    visionStartTokenId: num(root, 'vision_start_token_id', 151652),
    visionEndTokenId: num(root, 'vision_end_token_id', 151653),
  };
}

/** Special ids shared by both families' tokenizers (QWEN.md §1). */
export const qwenTokens = {
  endOfText: 151643,
  imStart: 151644,
  imEnd: 151645,
} as const;

/** Decoding stops at either. */
export const qwenEosIds: readonly number[] = [qwenTokens.imEnd, qwenTokens.endOfText];

/**
 * The image processor's settings, from `preprocessor_config.json` (the hub: min_pixels/max_pixels)
 * or `processor_config.json["image_processor"]` (transformers 5, TRL: size.shortest_edge /
 * size.longest_edge). QWEN.md §1–2.
 */
export interface QwenImageProcessorConfig {
  minPixels: number;
  maxPixels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}
