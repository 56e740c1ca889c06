/**
 * LoRA on a Qwen checkpoint, as PEFT does it, so adapters move both ways between vrft and
 * transformers + PEFT:
 * - which layers: `target_modules` matched as PEFT matches a list (a module whose name is the
 *   target or ends with `.target`) over every linear layer, vision tower included — so
 *   `gate_proj` also catches Qwen2.5-VL's vision MLP, as it does in PEFT; 'all-linear' is every
 *   linear but the output head. Without target_modules: the language model's seven linears.
 * - initialisation: A kaiming-uniform (a = √5, i.e. U(±1/√in)), B zero, so a new adapter changes nothing;
 *   scale = lora_alpha / r;
 * - files: `adapter_config.json` + `adapter_model.safetensors`, tensors named as PEFT saves them
 *   over transformers 5's module tree (`base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight`).
 *   transformers 4's names (`base_model.model.model.layers.0…`, `base_model.model.visual…`) are read too.
 */
import { tf } from '../../engine/tf';
import { seeded } from '../../../shared/random';
import type { LoraConfig } from '../policy';
import type { NamedTensor, PendingTensor, TensorMap } from '../safetensors';
import type { QwenConfig } from './config';
import type { QwenWeights } from './layers';

export const languageLinears = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Every linear layer of the checkpoint (checkpoint names, less `.weight`), output head aside. */
export function linearLayers(weights: QwenWeights): string[] {
  return linearLayerNames([...weights.variables].map(([name, v]) => [name, v.shape] as const));
}

/** linearLayers over weight names and shapes (a checkpoint's, or qwenWeightShapes' without one). */
export function linearLayerNames(shapes: Iterable<readonly [string, readonly number[]]>): string[] {
  return [...shapes]
    .filter(([name, shape]) => name.endsWith('.weight') && shape.length === 2)
    .map(([name]) => name.slice(0, -'.weight'.length))
    .filter((name) => name !== 'lm_head' && !name.endsWith('embed_tokens') && !/norm|ln_q/.test(name));
}

/** The layers a LoRA config puts adapters on, in checkpoint order. */
export function loraTargets(weights: QwenWeights, lora: LoraConfig): string[] {
  return matchLoraTargets(linearLayers(weights), lora);
}

/** Which of these linear layers (checkpoint names, in order) a LoRA config targets. */
export function matchLoraTargets(linear: readonly string[], lora: LoraConfig): string[] {
  if (lora.targetModules === 'all-linear') return [...linear];
  if (typeof lora.targetModules === 'string') {
    // PEFT: a string is a regular expression the whole module name must match.
    const pattern = new RegExp(`^(?:${lora.targetModules})$`);
    const chosen = linear.filter((name) => pattern.test(peftModule(name)) || pattern.test(name));
    if (!chosen.length)
      throw new Error(`target_modules ${JSON.stringify(lora.targetModules)} matches no linear layer`);
    return chosen;
  }
  const targets = lora.targetModules ?? languageLinears;
  const chosen = linear.filter((name) =>
    lora.targetModules === undefined
      ? name.startsWith('model.layers.') && targets.some((t) => name.endsWith(`.${t}`))
      : targets.some((t) => name === t || name.endsWith(`.${t}`) || peftModule(name) === t),
  );
  const unmatched = targets.filter((t) => !chosen.some((name) => name === t || name.endsWith(`.${t}`)));
  if (unmatched.length)
    throw new Error(
      `target_modules ${JSON.stringify(unmatched)} match no linear layer of this model ` +
        `(its layers end in ${[...new Set(linear.map((n) => n.split('.').slice(-2).join('.')))].slice(0, 12).join(', ')}, …)`,
    );
  return chosen;
}

/** Adds fresh adapters (A kaiming-uniform, B zero) to `names`. */
export function addAdapters(
  weights: QwenWeights,
  names: readonly string[],
  lora: LoraConfig,
  seed: number,
): void {
  const random = seeded(seed).next;
  for (const name of names) {
    const [outDim, inDim] = weights.get(`${name}.weight`).shape as [number, number];
    const bound = 1 / Math.sqrt(inDim);
    const a = Float32Array.from({ length: lora.rank * inDim }, () => (2 * random() - 1) * bound);
    weights.adapters.set(name, {
      a: tf.variable(tf.tensor2d(a, [lora.rank, inDim]), true, `${name}.lora_A#${weights.id}`),
      b: tf.variable(tf.zeros([outDim, lora.rank]), true, `${name}.lora_B#${weights.id}`),
      scale: lora.alpha / lora.rank,
      dropout: lora.dropout,
    });
  }
}

/** transformers 5's module path of a checkpoint layer name (what PEFT names adapters after). */
export function peftModule(name: string): string {
  if (name.startsWith('model.layers.') || name === 'model.norm' || name === 'model.embed_tokens')
    return `model.language_model.${name.slice('model.'.length)}`;
  if (name.startsWith('visual.')) return `model.${name}`;
  return name;
}

/** The checkpoint layer name of a PEFT module path, transformers 5's or 4's. */
function checkpointLayer(module: string): string {
  if (module.startsWith('model.language_model.'))
    return `model.${module.slice('model.language_model.'.length)}`;
  if (module.startsWith('model.visual.')) return module.slice('model.'.length);
  return module;
}

export const peftKey = (layer: string, part: 'A' | 'B') =>
  `base_model.model.${peftModule(layer)}.lora_${part}.weight`;

/** The adapters as PEFT's adapter_model.safetensors holds them. */
export function adapterTensors(weights: QwenWeights): TensorMap {
  const out: TensorMap = new Map();
  for (const [layer, { a, b }] of weights.adapters) {
    out.set(peftKey(layer, 'A'), { shape: a.shape, data: a.dataSync() as Float32Array });
    out.set(peftKey(layer, 'B'), { shape: b.shape, data: b.dataSync() as Float32Array });
  }
  return out;
}

/** Reads adapter_model.safetensors' tensors into checkpoint layer names: layer → {A, B}. */
export function readAdapterTensors(
  tensors: TensorMap,
  file: string,
): Map<string, { a: NamedTensor; b: NamedTensor }> {
  const layers = new Map<string, { a?: NamedTensor; b?: NamedTensor }>();
  for (const [key, tensor] of tensors) {
    const match = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(key);
    if (!match) throw new Error(`${file}: ${key} is not a LoRA weight as PEFT names them`);
    const layer = checkpointLayer(match[1]!);
    const entry = layers.get(layer) ?? {};
    if (match[2] === 'A') entry.a = tensor;
    else entry.b = tensor;
    layers.set(layer, entry);
  }
  for (const [layer, entry] of layers)
    if (!entry.a || !entry.b) throw new Error(`${file}: ${layer} has lora_${entry.a ? 'B' : 'A'} missing`);
  return layers as Map<string, { a: NamedTensor; b: NamedTensor }>;
}

/** PEFT's adapter_config.json for these adapters over the checkpoint in `baseModel`. */
export function adapterConfig(
  config: QwenConfig,
  lora: LoraConfig,
  targets: readonly string[],
  baseModel: string,
) {
  const modules = [...new Set(targets.map((t) => t.split('.').at(-1)!))].sort();
  return {
    alpha_pattern: {},
    // What PEFT records of the model it wrapped (informational; nothing reads it back).
    auto_mapping:
      config.family === 'qwen2-vl'
        ? {
            base_model_class: 'Qwen2VLForConditionalGeneration',
            parent_library: 'transformers.models.qwen2_vl.modeling_qwen2_vl',
          }
        : {
            base_model_class: 'Qwen2_5_VLForConditionalGeneration',
            parent_library: 'transformers.models.qwen2_5_vl.modeling_qwen2_5_vl',
          },
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: lora.rank,
    rank_pattern: {},
    revision: null,
    // A list is matched by name ending, so the seven names would also put adapters on
    // Qwen2.5-VL's vision MLP: the default is a regular expression that leaves `visual` out.
    target_modules: lora.targetModules ?? `^(?!.*visual).*\\.(${modules.join('|')})$`,
    task_type: null,
    use_dora: false,
    use_rslora: false,
  };
}

/** W + scale·B·A for every adapter: the merged weights (checkpoint names), each made when written. */
export function mergedWeights(weights: QwenWeights): Map<string, PendingTensor> {
  const out = new Map<string, PendingTensor>();
  for (const [name, v] of weights.variables) {
    const layer = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : undefined;
    const adapter = layer === undefined ? undefined : weights.adapters.get(layer);
    out.set(name, {
      shape: v.shape,
      dtype: 'F32',
      values: () => {
        if (!adapter) return v.dataSync() as Float32Array;
        const merged = tf.tidy(() => tf.add(v, tf.mul(tf.matMul(adapter.b, adapter.a), adapter.scale)));
        try {
          return merged.dataSync() as Float32Array;
        } finally {
          merged.dispose();
        }
      },
    });
  }
  return out;
}
