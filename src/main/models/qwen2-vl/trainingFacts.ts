/**
 * What another trainer (TRL, from `vrft scale-out export`) needs to know of a Qwen checkpoint to
 * train it as vrft would: its transformers class, the family's prompts and answer frame, the
 * image sizes its processor makes, and PEFT's `target_modules` for a LoRA config. Read from the
 * folder's JSON alone (no weights), or for a hub id from the name and the processor's defaults.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Size } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import type { LoraConfig } from '../policy';
import type { TaskPrompts } from '../prompts';
import type { QwenFamily } from './config';
import { defaultImageProcessor, imageProcessorOf, readQwenFolderConfig } from './folder';
import { languageLinears } from './lora';
import { inputSizeOf } from './processor';
import { qwen25VlPrompts, qwen2VlPrompts } from './prompts';

export interface TrainingFacts {
  family: QwenFamily;
  /** The class transformers loads the checkpoint with. */
  modelClass: 'Qwen2VLForConditionalGeneration' | 'Qwen2_5_VLForConditionalGeneration';
  prompts: TaskPrompts;
  frame: 'norm1000' | 'resized';
  /** The size the processor resizes an image to (what a 'resized' frame is in). */
  inputSize(image: Size): Size;
  minPixels: number;
  maxPixels: number;
  /** PEFT's target_modules for vrft's LoRA config (vrft's default: the language model's seven linears). */
  peftTargetModules(lora: LoraConfig): string | string[];
}

/** A hub id's family from its name ("Qwen/Qwen2.5-VL-7B-Instruct"), or undefined. */
function familyFromName(id: string): QwenFamily | undefined {
  const name = id.toLowerCase().replace(/_/g, '.');
  if (/qwen2\.5-?vl/.test(name)) return 'qwen2.5-vl';
  if (/qwen2-?vl/.test(name)) return 'qwen2-vl';
  return undefined;
}

/** `model` is a local folder (config.json) or a Hugging Face hub id. */
export function qwenTrainingFacts(model: string, isLocal: boolean): TrainingFacts {
  let family: QwenFamily;
  let processor = defaultImageProcessor;
  if (isLocal) {
    family = readQwenFolderConfig(model).family;
    processor = imageProcessorOf(model);
  } else {
    const named = familyFromName(model);
    if (!named)
      throw new UserError(
        'invalid_input',
        `"${model}" is neither a local model folder nor a hub id whose name says Qwen2-VL or Qwen2.5-VL; ` +
          'download the model and name its folder',
      );
    family = named;
  }
  return {
    family,
    modelClass:
      family === 'qwen2-vl' ? 'Qwen2VLForConditionalGeneration' : 'Qwen2_5_VLForConditionalGeneration',
    prompts: family === 'qwen2-vl' ? qwen2VlPrompts : qwen25VlPrompts,
    frame: family === 'qwen2-vl' ? 'norm1000' : 'resized',
    inputSize: (image) => {
      const { width, height } = inputSizeOf(image, processor);
      return { width, height };
    },
    minPixels: processor.minPixels,
    maxPixels: processor.maxPixels,
    // As vrft saves an adapter (lora.ts): a list matches by name ending and would put adapters on
    // Qwen2.5-VL's vision MLP too, so the default is a regular expression that leaves `visual` out.
    peftTargetModules: (lora) =>
      lora.targetModules ?? `^(?!.*visual).*\\.(${[...languageLinears].sort().join('|')})$`,
  };
}

/** Whether a model argument names a local folder (else it is taken for a hub id). */
export function isLocalModel(model: string): boolean {
  return existsSync(path.join(model, 'config.json'));
}
