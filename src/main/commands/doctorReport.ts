/**
 * What `vrft doctor --model` prints: the plan (or what is wrong with the folder) as rows of a
 * label and its text. The plan itself is doctorModel.ts's.
 */
import { formatCount, formatGiB } from '../models/qwen2-vl/memory';
import { wasmWeightBytes, type DamagedModel, type ModelPlan } from './doctorModel';

/** A damaged folder as `vrft doctor` prints it, with what to do about it. */
export function formatDamagedModel(damaged: DamagedModel): string {
  return table([
    ['model', damaged.dir],
    ...damaged.problems.map((p, i): [string, string] => [i === 0 ? 'problem' : '', p]),
    ['verdict', 'vrft cannot train or evaluate this folder: download or save it again'],
  ]);
}

/** The plan as `vrft doctor` prints it: label, then text, one row each. */
export function formatModelPlan(plan: ModelPlan): string {
  const gib = formatGiB;
  const count = formatCount;
  const rows: [string, string][] = [
    ['model', `${plan.dir} (${plan.kind}${plan.base ? `, adapters over ${plan.base}` : ''})`],
    [
      'folder',
      plan.weights === 'checked'
        ? 'checked as vrft train checks it: weights, their shapes against config.json, tokenizer'
        : 'config.json alone: no weights to check yet (vrft train refuses the folder until they are there)',
    ],
  ];
  const p = plan.parameters;
  if (p.vision !== undefined && p.language !== undefined)
    rows.push([
      'parameters',
      `${count(p.total)}: vision tower ${count(p.vision)}, language model ${count(p.language)} ` +
        `(embeddings ${count(p.embeddings!)}${p.tied ? ', shared with the output head' : `, output head ${count(p.lmHead!)}`})`,
    ]);
  else rows.push(['parameters', count(p.total)]);
  if (!plan.step) {
    rows.push(['memory', plan.note ?? 'not planned']);
    return table(rows);
  }
  const s = plan.step;
  const source = plan.config
    ? `${plan.config} (${plan.method.toUpperCase()})`
    : 'GRPO defaults (no --config)';
  const training = plan.lora
    ? `LoRA r ${plan.lora.rank} on ${plan.lora.layers} layers (${count(plan.lora.parameters)} parameters)`
    : `full fine-tuning (${count(s.trainableParameters)} parameters)`;
  rows.push(
    ['config', source],
    [
      'training',
      `${training}; vision tower ${s.freezeVisionTower ? 'frozen' : 'trained'}; ` +
        `gradientCheckpointing ${s.gradientCheckpointing ? 'on' : 'off'}`,
    ],
    [
      'a step',
      `${s.rows} sequences of ${s.promptTokens} prompt tokens (a ${s.image.width}×${s.image.height} image is ` +
        `${s.imageTokens}) + ${s.completionTokens} completion tokens`,
    ],
    [
      'weights',
      `${gib(s.weights)} (float32)${s.referenceWeights ? `, and ${gib(s.referenceWeights)} for the reference copy (β > 0)` : ''}`,
    ],
    [
      'optimiser',
      `${gib(s.training)}: ${plan.lora ? 'the adapters, their gradients' : 'gradients'} and AdamW's two moments`,
    ],
    [
      'activations',
      `${gib(s.activations.full)} in one pass, ${gib(s.activations.recomputed)} with gradientCheckpointing`,
    ],
    ['needs', `${gib(s.needed)}${s.gradientCheckpointing ? ' (with recomputation)' : ''}`],
  );
  const b = plan.backend;
  rows.push([
    `${b.name} has`,
    b.bytes === null
      ? `${b.memory}: unknown (TensorFlow.js does not say how much the GPU has)`
      : b.memory === 'wasm heap'
        ? `${gib(b.bytes)} of wasm heap at most (weights up to ${gib(wasmWeightBytes)})`
        : `${gib(b.bytes)} of machine memory (${gib(b.freeBytes ?? 0)} free now)`,
  ]);
  rows.push(['verdict', plan.verdict]);
  plan.advice.forEach((line, i) => rows.push([i === 0 ? 'advice' : '', `- ${line}`]));
  return table(rows);
}

function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return `${rows.map(([label, text]) => `${label.padEnd(width)}  ${text}`).join('\n')}\n`;
}
