/**
 * The Train form's settings for a Qwen2-VL / Qwen2.5-VL folder, named as PEFT and the run config
 * name them (train/config.ts): LoRA {r, lora_alpha, lora_dropout, target_modules},
 * freezeVisionTower, gradientCheckpointing. A field left empty is left out, so the host's default
 * applies (the placeholders show those defaults).
 */
import type { ModelKind } from '../../../shared/contract';

export interface QwenSettings {
  /** Train LoRA adapters (on by default: a 2B model's full weights rarely fit); off trains every weight. */
  lora: boolean;
  r: number | string | null | undefined;
  lora_alpha: number | string | null | undefined;
  lora_dropout: number | string | null | undefined;
  /** As typed: "q_proj, v_proj", "all-linear" or a regular expression; '' for the default. */
  target_modules: string;
  freezeVisionTower: boolean;
  gradientCheckpointing: boolean;
}

/** PEFT's LoRA defaults, which the host applies to a field left empty. */
export const loraDefaults = { r: 8, lora_alpha: 8, lora_dropout: 0 } as const;

export const defaultQwenSettings = (): QwenSettings => ({
  lora: true,
  r: '',
  lora_alpha: '',
  lora_dropout: '',
  target_modules: '',
  freezeVisionTower: true,
  gradientCheckpointing: false,
});

export const isQwen = (kind: ModelKind | undefined): boolean => kind === 'qwen2-vl' || kind === 'qwen2.5-vl';

/**
 * target_modules as PEFT takes it: a list of module names ("q_proj, v_proj"), the string
 * 'all-linear', or a regular expression (anything with regex syntax in it) matched against the
 * full module name; undefined when empty.
 */
export function targetModulesOf(typed: string): string | string[] | undefined {
  const text = typed.trim();
  if (!text) return undefined;
  if (text === 'all-linear' || /[*+?()[\]{}|^$\\]/.test(text)) return text;
  return text.split(/[\s,]+/).filter(Boolean);
}

const isSet = (v: number | string | null | undefined): v is number | string =>
  v !== null && v !== undefined && String(v).trim() !== '';

/** The run-config keys the settings stand for. */
export function qwenConfig(s: QwenSettings): Record<string, unknown> {
  const targets = targetModulesOf(s.target_modules);
  const lora = s.lora
    ? {
        ...(isSet(s.r) ? { r: Number(s.r) } : {}),
        ...(isSet(s.lora_alpha) ? { lora_alpha: Number(s.lora_alpha) } : {}),
        ...(isSet(s.lora_dropout) ? { lora_dropout: Number(s.lora_dropout) } : {}),
        ...(targets !== undefined ? { target_modules: targets } : {}),
      }
    : null;
  return { lora, freezeVisionTower: s.freezeVisionTower, gradientCheckpointing: s.gradientCheckpointing };
}
