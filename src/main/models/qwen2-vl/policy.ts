/**
 * Qwen2-VL / Qwen2.5-VL behind the Policy interface, from a local Hugging Face folder.
 *
 * - `prepare` runs each image through the processor and the vision tower once; the G samples of
 *   a prompt and every training pass over them share those features (recomputed inside the
 *   training pass only when the vision tower trains).
 * - `sample` prefills a prompt once, tiles its KV cache to G rows and decodes them together.
 * - `logProbs` is one differentiable pass over prompt + completion; only the completion
 *   positions go through the output head (151,936 columns).
 * - LoRA adapters are PEFT's (lora.ts); the reference of a LoRA run is the same model with
 *   adapters off. Checkpoints and saved models are folders transformers + PEFT load.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Size } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import { seeded } from '../../../shared/random';
import { tf } from '../../engine/tf';
import type {
  CompletionRef,
  LoraConfig,
  Policy,
  Prepared,
  PromptInput,
  Sample,
  SampleOptions,
  SaveOptions,
} from '../policy';
import { readAdapterFolder } from '../adapterFolder';
import { decodeRows } from '../sampling';
import { readSafetensors, writeSafetensors, type PendingTensor, type TensorMap } from '../safetensors';
import { qwenEosIds, qwenTokens, type QwenConfig, type QwenImageProcessorConfig } from './config';
import { expandImagePads, type QwenChat } from './chat';
import { loadQwenFolder, qwenFolderFiles, readQwenFolderConfig } from './folder';
import {
  adapterConfig,
  adapterTensors,
  addAdapters,
  loraTargets,
  mergedWeights,
  readAdapterTensors,
} from './lora';
import { disposeCache, QwenVl, tileCache, type GridThw, type QwenSequence } from './model';
import { checkBackendHolds } from './memory';
import { inputSizeOf, processImage } from './processor';
import { qwen25VlPrompts, qwen2VlPrompts } from './prompts';

export class QwenPrepared implements Prepared {
  constructor(
    /** Per prompt: its ids (image pads expanded) and its image's grid. */
    readonly sequences: QwenSequence[],
    /** Per prompt: the pixel rows [N, C·T·p·p] (kept to re-encode when the vision tower trains). */
    readonly pixels: tf.Tensor2D[],
    /** Per prompt: merged image features [tokens, hidden], computed once. */
    readonly features: tf.Tensor2D[],
  ) {}
  get count(): number {
    return this.sequences.length;
  }
  dispose(): void {
    tf.dispose([...this.pixels, ...this.features]);
  }
}

export interface QwenLoadOptions {
  lora?: LoraConfig | null;
  seed?: number;
  freezeVisionTower?: boolean;
  gradientCheckpointing?: boolean;
}

export class QwenPolicy implements Policy {
  readonly kind: 'qwen2-vl' | 'qwen2.5-vl';
  readonly frame: 'norm1000' | 'resized';
  readonly prompts;
  private lora: LoraConfig | null = null;
  private loraLayers: string[] = [];

  constructor(
    readonly model: QwenVl,
    readonly chat: QwenChat,
    readonly imageProcessor: QwenImageProcessorConfig,
    /** The folder the base weights came from (PEFT's base_model_name_or_path). */
    readonly baseDir: string,
    private readonly visionTrains = false,
  ) {
    this.kind = model.config.family;
    this.frame = this.kind === 'qwen2-vl' ? 'norm1000' : 'resized';
    this.prompts = this.kind === 'qwen2-vl' ? qwen2VlPrompts : qwen25VlPrompts;
  }

  get config(): QwenConfig {
    return this.model.config;
  }

  get tokenizer() {
    return this.chat.tokenizer;
  }

  /**
   * A model folder: a checkpoint (config.json + weights), or a LoRA folder vrft or PEFT saved
   * (adapter_config.json naming its base, adapter_model.safetensors) — the base then loads first.
   */
  static load(dir: string, options: QwenLoadOptions = {}): QwenPolicy {
    const adapter = readAdapterFolder(dir);
    const baseDir = adapter ? adapter.base : dir;
    // Before a byte of weights is read: a checkpoint the backend cannot hold says so and what to install.
    if (existsSync(path.join(baseDir, 'config.json')))
      checkBackendHolds(readQwenFolderConfig(baseDir), tf.getBackend(), baseDir);
    const folder = loadQwenFolder(baseDir);
    const model = new QwenVl(folder.config, folder.weights);
    folder.weights.clear(); // the variables hold the values now: let the arrays go
    const freeze = options.freezeVisionTower ?? true;
    const policy = new QwenPolicy(model, folder.chat, folder.imageProcessor, baseDir, !freeze);
    const lora = options.lora ?? (adapter ? adapterLora(adapter.json) : null);
    if (lora) policy.addLora(lora, options.seed ?? 0);
    if (adapter) policy.loadAdapterFile(path.join(dir, 'adapter_model.safetensors'));
    policy.setTrainable(!lora, !freeze);
    return policy;
  }

  private addLora(lora: LoraConfig, seed: number): void {
    this.lora = lora;
    try {
      this.loraLayers = loraTargets(this.model.weights, lora);
    } catch (error) {
      throw new UserError('invalid_input', (error as Error).message);
    }
    addAdapters(this.model.weights, this.loraLayers, lora, seed + 1000);
  }

  /** Full fine-tuning trains the language model (and the vision tower unless frozen); LoRA trains adapters only. */
  private setTrainable(languageModel: boolean, visionTower: boolean): void {
    for (const [name, v] of this.model.weights.variables) {
      const vision = name.startsWith('visual.');
      v.trainable = vision ? visionTower && languageModel : languageModel;
    }
  }

  private get visionTrainable(): boolean {
    return (this.visionTrains && !this.lora) || this.loraLayers.some((layer) => layer.startsWith('visual.'));
  }

  inputSize(image: Size): Size {
    const { width, height } = inputSizeOf(image, this.imageProcessor);
    return { width, height };
  }

  /** The prompt's ids with one `<|image_pad|>` per merged image token. */
  promptIds(item: PromptInput, grid: GridThw): number[] {
    const text = item.raw ? item.prompt : this.chat.render(item.prompt);
    return expandImagePads(this.chat.tokenizer.encode(text), grid, this.imageProcessor.mergeSize);
  }

  prepare(batch: PromptInput[]): QwenPrepared {
    const sequences: QwenSequence[] = [];
    const pixels: tf.Tensor2D[] = [];
    const features: tf.Tensor2D[] = [];
    try {
      for (const item of batch) {
        const processed = processImage(item.image, this.imageProcessor);
        const grid = processed.gridThw;
        const rows = tf.tensor2d(processed.pixelValues, [
          processed.rows,
          processed.pixelValues.length / processed.rows,
        ]);
        pixels.push(rows);
        features.push(tf.tidy(() => this.model.encodeImages(rows, [grid])));
        sequences.push({ inputIds: this.promptIds(item, grid), grids: [grid] });
      }
    } catch (error) {
      tf.dispose([...pixels, ...features]);
      throw error;
    }
    return new QwenPrepared(sequences, pixels, features);
  }

  sample(prepared: Prepared, options: SampleOptions): Sample[] {
    const p = prepared as QwenPrepared;
    const samples: Sample[] = [];
    for (let b = 0; b < p.count; b++) {
      const random = seeded(options.seed * 7919 + b).next;
      const rows = options.n;
      const first = this.model.prefill([p.sequences[b]!], p.features[b]!);
      let cache = tileCache(first.cache, rows);
      disposeCache(first.cache);
      let logits = tf.tidy(() => tf.tile(first.logits, [rows, 1]) as tf.Tensor2D);
      first.logits.dispose();
      const decoded = decodeRows(
        {
          logits: () => ({ values: logits.dataSync() as Float32Array, vocab: logits.shape[1] }),
          step: (next) => {
            const stepped = this.model.decodeStep(cache, next);
            disposeCache(cache);
            logits.dispose();
            ({ cache, logits } = stepped);
          },
          dispose: () => {
            logits.dispose();
            disposeCache(cache);
          },
        },
        rows,
        options,
        random,
        (token) => qwenEosIds.includes(token),
        qwenTokens.endOfText,
      );
      for (const row of decoded) samples.push({ promptIndex: b, ...row, text: this.decode(row.tokenIds) });
    }
    return samples;
  }

  /** Completion text without the end token. */
  decode(ids: readonly number[]): string {
    return this.chat.tokenizer.decode(ids.filter((id) => !qwenEosIds.includes(id)));
  }

  logProbs(
    prepared: Prepared,
    completions: CompletionRef[],
    temperature = 1,
  ): { logProbs: tf.Tensor2D; mask: tf.Tensor2D } {
    const p = prepared as QwenPrepared;
    const maxLength = Math.max(1, ...completions.map((c) => c.tokenIds.length));
    return tf.tidy(() => {
      const perPrompt = this.visionTrainable
        ? p.pixels.map((rows, i) => this.model.encodeImages(rows, p.sequences[i]!.grids))
        : p.features;
      const sequences = completions.map((c) => {
        const prompt = p.sequences[c.promptIndex]!;
        return { inputIds: [...prompt.inputIds, ...c.tokenIds], grids: prompt.grids };
      });
      const features = tf.concat(
        completions.map((c) => perPrompt[c.promptIndex]!),
        0,
      );
      const { hidden } = this.model.hiddenStates(sequences, features, { dropout: true });
      const width = hidden.shape[1];
      // Token j of a completion sits at (left pad + prompt + j); the position before it predicts it.
      const rowsAt: number[] = [];
      const targets: number[] = [];
      const gridIndex = new Int32Array(completions.length * maxLength);
      const mask = new Float32Array(completions.length * maxLength);
      completions.forEach((c, r) => {
        const total = p.sequences[c.promptIndex]!.inputIds.length + c.tokenIds.length;
        const start = width - total + p.sequences[c.promptIndex]!.inputIds.length;
        c.tokenIds.forEach((id, j) => {
          rowsAt.push(r * width + start + j - 1);
          targets.push(id);
          gridIndex[r * maxLength + j] = targets.length;
          mask[r * maxLength + j] = 1;
        });
      });
      const flat = tf.reshape(hidden, [-1, hidden.shape[2]]) as tf.Tensor2D;
      const picked = tf.gather(flat, tf.tensor1d(rowsAt, 'int32'));
      const chosen = this.model.tokenLogProbs(picked as tf.Tensor2D, targets, temperature);
      const grid = tf.reshape(
        tf.gather(tf.concat([tf.zeros([1]), chosen]), tf.tensor1d(gridIndex, 'int32')),
        [completions.length, maxLength],
      ) as tf.Tensor2D;
      return { logProbs: grid, mask: tf.tensor2d(mask, [completions.length, maxLength]) };
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.trainableWeights().values()];
  }

  trainableWeights(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [layer, { a, b }] of this.model.weights.adapters) {
      out.set(`${layer}.lora_A.weight`, a);
      out.set(`${layer}.lora_B.weight`, b);
    }
    for (const [name, v] of this.model.weights.variables) if (v.trainable) out.set(name, v);
    return out;
  }

  loadWeights(tensors: TensorMap): void {
    const named = new Map<string, tf.Variable>([...this.model.weights.variables, ...this.trainableWeights()]);
    for (const [name, t] of tensors) {
      const v = named.get(name);
      if (!v) throw new Error(`the checkpoint has ${name}, which this ${this.kind} model does not`);
      if (v.shape.join() !== t.shape.join())
        throw new Error(`${name}: checkpoint shape [${t.shape}] ≠ model [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(t.data as Float32Array, t.shape)));
    }
  }

  withAdapters<T>(on: boolean, fn: () => T): T {
    const weights = this.model.weights;
    const before = weights.adaptersOn;
    weights.adaptersOn = on;
    try {
      return fn();
    } finally {
      weights.adaptersOn = before;
    }
  }

  private loadAdapterFile(file: string): void {
    const layers = readAdapterTensors(readSafetensors(file).tensors, file);
    for (const [layer, { a, b }] of layers) {
      const adapter = this.model.weights.adapters.get(layer);
      if (!adapter)
        throw new UserError(
          'invalid_input',
          `${file}: an adapter on ${layer}, which this LoRA config does not target`,
        );
      tf.tidy(() => {
        adapter.a.assign(tf.tensor(a.data as Float32Array, a.shape));
        adapter.b.assign(tf.tensor(b.data as Float32Array, b.shape));
      });
    }
  }

  /** A LoRA run keeps its adapters as PEFT does; a full fine-tune, the weights it trains. */
  saveCheckpointWeights(dir: string): void {
    if (this.lora) this.writeAdapter(dir);
    else writeSafetensors(path.join(dir, 'model.safetensors'), this.tensorsOf(this.trainableWeights()));
  }

  loadCheckpointWeights(dir: string): void {
    const adapter = path.join(dir, 'adapter_model.safetensors');
    if (existsSync(adapter)) this.loadAdapterFile(adapter);
    else this.loadWeights(readSafetensors(path.join(dir, 'model.safetensors')).tensors);
  }

  private writeAdapter(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, 'adapter_model.safetensors'), adapterTensors(this.model.weights), {
      format: 'pt',
    });
    const config = adapterConfig(this.config, this.lora!, this.loraLayers, path.resolve(this.baseDir));
    writeFileSync(path.join(dir, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** The variables' values, each read when written. */
  private tensorsOf(variables: Map<string, tf.Variable>): Map<string, PendingTensor> {
    const out = new Map<string, PendingTensor>();
    for (const [name, v] of variables)
      out.set(name, { shape: v.shape, dtype: 'F32', values: () => v.dataSync() as Float32Array });
    return out;
  }

  /**
   * A model folder transformers loads. A LoRA run: PEFT's adapter files, over the base named in
   * adapter_config.json, with the base's config, tokenizer, template and processor files beside
   * them (vrft and PEFT both load it). Full fine-tuning, or `merge`: every weight (LoRA merged in).
   */
  save(dir: string, metadata: Record<string, string> = {}, options: SaveOptions = {}): void {
    mkdirSync(dir, { recursive: true });
    for (const file of qwenFolderFiles(this.baseDir)) copyFileSync(file, path.join(dir, path.basename(file)));
    if (this.lora && !options.merge) {
      this.writeAdapter(dir);
      return;
    }
    const weights = this.lora
      ? mergedWeights(this.model.weights)
      : this.tensorsOf(this.model.weights.variables);
    writeSafetensors(path.join(dir, 'model.safetensors'), weights, { format: 'pt', ...metadata });
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The LoRA shape an adapter_config.json describes (PEFT's names and defaults). */
export function adapterLora(json: Record<string, unknown>): LoraConfig {
  const targets = json.target_modules;
  return {
    rank: Number(json.r ?? 8),
    alpha: Number(json.lora_alpha ?? 8),
    dropout: Number(json.lora_dropout ?? 0),
    ...(Array.isArray(targets) || typeof targets === 'string'
      ? { targetModules: targets as string[] | string }
      : {}),
  };
}
