/**
 * The weights a Qwen2-VL / Qwen2.5-VL config.json describes, by name and shape: what the model
 * reads (model.ts), what a folder's safetensors headers are checked against before a run
 * (inspect.ts) and what memory plans count (memory.ts). No tensor library: headers are enough.
 */
import type { QwenConfig } from './config';

/**
 * Every weight the model reads, by checkpoint name, with its shape (PyTorch's: Linear [out, in],
 * Conv3d [E, C, T, p, p]). `lm_head.weight` only when the head is untied.
 */
export function qwenWeightShapes(config: QwenConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const linear = (name: string, inDim: number, outDim: number, bias: boolean) => {
    shapes.set(`${name}.weight`, [outDim, inDim]);
    if (bias) shapes.set(`${name}.bias`, [outDim]);
  };
  const v = config.vision;
  const qwen2 = config.family === 'qwen2-vl';
  const norm = (name: string, width: number) => {
    shapes.set(`${name}.weight`, [width]);
    if (qwen2) shapes.set(`${name}.bias`, [width]); // LayerNorm; Qwen2.5-VL's RMSNorm has none
  };
  const E = v.hiddenSize;
  shapes.set('visual.patch_embed.proj.weight', [
    E,
    v.inChannels,
    v.temporalPatchSize,
    v.patchSize,
    v.patchSize,
  ]);
  for (let i = 0; i < v.depth; i++) {
    const p = `visual.blocks.${i}`;
    norm(`${p}.norm1`, E);
    norm(`${p}.norm2`, E);
    linear(`${p}.attn.qkv`, E, 3 * E, true);
    linear(`${p}.attn.proj`, E, E, true);
    if (qwen2) {
      linear(`${p}.mlp.fc1`, E, v.intermediateSize, true);
      linear(`${p}.mlp.fc2`, v.intermediateSize, E, true);
    } else {
      linear(`${p}.mlp.gate_proj`, E, v.intermediateSize, true);
      linear(`${p}.mlp.up_proj`, E, v.intermediateSize, true);
      linear(`${p}.mlp.down_proj`, v.intermediateSize, E, true);
    }
  }
  const merged = E * v.spatialMergeSize ** 2;
  norm('visual.merger.ln_q', E);
  linear('visual.merger.mlp.0', merged, merged, true);
  linear('visual.merger.mlp.2', merged, v.outHiddenSize, true);

  const t = config.text;
  const H = t.hiddenSize;
  shapes.set('model.embed_tokens.weight', [t.vocabSize, H]);
  for (let i = 0; i < t.numLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [H]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [H]);
    linear(`${p}.self_attn.q_proj`, H, t.numHeads * t.headDim, true);
    linear(`${p}.self_attn.k_proj`, H, t.numKvHeads * t.headDim, true);
    linear(`${p}.self_attn.v_proj`, H, t.numKvHeads * t.headDim, true);
    linear(`${p}.self_attn.o_proj`, t.numHeads * t.headDim, H, false);
    linear(`${p}.mlp.gate_proj`, H, t.intermediateSize, false);
    linear(`${p}.mlp.up_proj`, H, t.intermediateSize, false);
    linear(`${p}.mlp.down_proj`, t.intermediateSize, H, false);
  }
  shapes.set('model.norm.weight', [H]);
  if (!t.tieWordEmbeddings) linear('lm_head', H, t.vocabSize, false);
  return shapes;
}
