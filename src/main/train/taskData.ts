/**
 * What a training run of each task learns from: SFT's examples and GRPO's prompts of detection,
 * classification or REC, in the policy's own prompts and answers, or a message saying what the
 * dataset lacks. The trainer and the scale-out export ask the same questions through these.
 */
import type { RunTask } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import type { GrpoPrompt } from './grpo/trainer';
import {
  classificationExamples,
  classificationPrompts,
  detectionExamples,
  detectionPrompts,
  detectionQuestions,
  synonymsOf,
  type LoadedDataset,
  type PromptingPolicy,
} from './datasetExamples';
import { atLeastOneRecItem, recExamples, recItems, recPrompts } from './recExamples';
import type { SftExample } from './sft';

/** What choosing a run's material reads of its config. */
export interface TaskSelection {
  task: RunTask;
  dataset: string;
  categories?: string[];
  negativeShare: number;
  seed: number;
}

/** A training run's detection questions: every positive, negatives up to `negativeShare`. */
function questionsOf(loaded: LoadedDataset, config: TaskSelection) {
  const categories = config.categories ?? loaded.categoriesInUse;
  return detectionQuestions(loaded.images, categories, config.negativeShare, config.seed);
}

/**
 * A run needs something to train on: classification labelled (or one-category) images, REC boxes
 * with an expression, detection boxes.
 */
function atLeastOne<T>(items: T[], config: TaskSelection): T[] {
  if (items.length > 0) return items;
  if (config.task === 'rec') return atLeastOneRecItem(items, config.dataset);
  const what =
    config.task === 'classification'
      ? 'has a label to classify (set image labels in the annotator, or draw boxes of one category per image)'
      : 'has a box to learn from';
  throw new UserError('invalid_input', `No image of "${config.dataset}" ${what}.`);
}

/** SFT's examples of the run's task; `thinkTemplate` fills each target's thinking. */
export function sftExamplesOf(
  loaded: LoadedDataset,
  config: TaskSelection & { thinkTemplate: string },
  policy: PromptingPolicy,
): SftExample[] {
  const examples = (() => {
    switch (config.task) {
      case 'classification':
        return classificationExamples(loaded.images, config.thinkTemplate, policy);
      case 'rec':
        return recExamples(recItems(loaded.images), config.thinkTemplate, policy);
      case 'detection':
        return detectionExamples(questionsOf(loaded, config), config.thinkTemplate, policy);
    }
  })();
  return atLeastOne(examples, config);
}

/** GRPO's prompts of the run's task, each with its solution and reward context. */
export function grpoPromptsOf(
  loaded: LoadedDataset,
  config: TaskSelection,
  policy: PromptingPolicy,
): GrpoPrompt[] {
  const prompts = (() => {
    switch (config.task) {
      case 'classification':
        return classificationPrompts(loaded.images, policy, synonymsOf(loaded.categories));
      case 'rec':
        return recPrompts(recItems(loaded.images), policy);
      case 'detection':
        return detectionPrompts(questionsOf(loaded, config), policy);
    }
  })();
  return atLeastOne(prompts, config);
}
