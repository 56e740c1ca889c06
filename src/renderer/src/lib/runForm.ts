/**
 * The Train form's settings and the run config they make: the fields each method shows (the rest
 * are typed in the advanced JSON), and the config the host receives, checked there as `vrft train`
 * checks a config file.
 */
import type { RunTask } from '../../../shared/contract';

export type Method = 'grpo' | 'sft';

/** The settings the form shows as fields, per method; the rest go in the advanced editor. */
export const settingFields: Record<Method, { key: string; label: string; step?: string }[]> = {
  grpo: [
    { key: 'steps', label: 'Steps' },
    { key: 'learningRate', label: 'Learning rate', step: 'any' },
    { key: 'promptsPerStep', label: 'Prompts per step' },
    { key: 'numGenerations', label: 'Samples per prompt (G)' },
    { key: 'temperature', label: 'Temperature', step: 'any' },
    { key: 'maxCompletionLength', label: 'Max completion tokens' },
    { key: 'beta', label: 'KL weight β', step: 'any' },
    { key: 'checkpointEvery', label: 'Checkpoint every' },
  ],
  sft: [
    { key: 'steps', label: 'Steps' },
    { key: 'learningRate', label: 'Learning rate', step: 'any' },
    { key: 'batchSize', label: 'Batch size' },
    { key: 'checkpointEvery', label: 'Checkpoint every' },
  ],
};

export interface FormState {
  task: RunTask;
  dataset?: string;
  split?: string;
  evalSplit?: string;
  /** As typed ('' for the default model). */
  model: string;
  /** The fields as typed ('' or empty shows, and leaves, the default). */
  values: Record<string, number | string | null | undefined>;
  /** The steps the host would take when the field is left empty. */
  defaultSteps: number;
  /** The model's own settings (a Qwen folder's LoRA and the like). */
  modelSettings: Record<string, unknown>;
  /** The advanced JSON, as typed. */
  advanced: string;
}

/**
 * The config the form describes: named fields, then the model's settings, then the advanced JSON
 * (which wins). Throws with a message when the advanced JSON is not an object.
 */
export function formConfig(form: FormState): Record<string, unknown> {
  let extra: unknown;
  try {
    extra = JSON.parse(form.advanced || '{}');
  } catch (e) {
    throw new Error(`The advanced settings are not valid JSON: ${(e as Error).message}`);
  }
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
    throw new Error('The advanced settings must be a JSON object: {"key": value, …}');
  const typed = Object.fromEntries(
    Object.entries(form.values)
      .filter(([, v]) => v !== null && v !== undefined && String(v).trim() !== '')
      .map(([k, v]) => [k, Number(v)]),
  );
  return {
    task: form.task,
    ...(form.dataset !== undefined ? { dataset: form.dataset } : {}),
    ...(form.split !== undefined ? { split: form.split } : {}),
    ...(form.evalSplit !== undefined ? { evalSplit: form.evalSplit } : {}),
    ...(form.model.trim() ? { model: form.model.trim() } : {}),
    ...(typed.steps === undefined ? { steps: form.defaultSteps } : {}),
    ...typed,
    ...form.modelSettings,
    ...(extra as Record<string, unknown>),
  };
}
