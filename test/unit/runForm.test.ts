/** The Train form's config: what the host receives for what the user typed. */
import { describe, expect, it } from 'vitest';
import { formConfig, type FormState } from '../../src/renderer/src/lib/runForm';

const form = (over: Partial<FormState> = {}): FormState => ({
  task: 'detection',
  dataset: 'shapes',
  split: '4-shot',
  model: '',
  values: {},
  defaultSteps: 200,
  modelSettings: {},
  advanced: '{}',
  ...over,
});

describe('formConfig', () => {
  it('sends the typed fields as numbers, leaves the empty ones to the host, and the default steps', () => {
    expect(formConfig(form({ values: { learningRate: '0.0002', beta: '', temperature: null } }))).toEqual({
      task: 'detection',
      dataset: 'shapes',
      split: '4-shot',
      steps: 200,
      learningRate: 0.0002,
    });
  });

  it('the model settings after the fields, and the advanced JSON over both', () => {
    const config = formConfig(
      form({
        model: ' /models/qwen ',
        evalSplit: '4-shot-eval',
        values: { steps: '30', beta: '0.1' },
        modelSettings: { lora: { r: 8 }, freezeVisionTower: true },
        advanced: '{"beta": 0, "lora": null, "epsilon": 0.3}',
      }),
    );
    expect(config).toEqual({
      task: 'detection',
      dataset: 'shapes',
      split: '4-shot',
      evalSplit: '4-shot-eval',
      model: '/models/qwen',
      steps: 30,
      beta: 0,
      lora: null,
      freezeVisionTower: true,
      epsilon: 0.3,
    });
  });

  it('says what is wrong with the advanced JSON', () => {
    expect(() => formConfig(form({ advanced: '{"beta": }' }))).toThrow(
      /^The advanced settings are not valid JSON: /,
    );
    expect(() => formConfig(form({ advanced: '[1, 2]' }))).toThrow(
      'The advanced settings must be a JSON object',
    );
    expect(formConfig(form({ advanced: '' }))).toMatchObject({ steps: 200 });
  });
});
