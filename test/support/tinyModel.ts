/** A tiny tiny-vlm for tests: its configuration, a test image, and a model saved to a folder. */
import * as tf from '@tensorflow/tfjs';
import type { PromptInput, RgbImage } from '../../src/main/models/policy';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { shapeNames } from '../../src/main/data/shapeworld';

/** The smallest configuration tests train (seconds, not hours): a 16-pixel image in 2 × 2 patches. */
export const tinyConfig = {
  imageSize: 16,
  patchSize: 8,
  dModel: 16,
  nHeads: 2,
  nLayers: 1,
  visionLayers: 1,
  mlpRatio: 2,
  maxPositions: 64,
};

/** A 16 × 16 image whose pixels differ with `shade`. */
export function shadedImage(shade: number): RgbImage {
  return {
    width: 16,
    height: 16,
    rgb: new Uint8Array(16 * 16 * 3).map((_, i) => (shade * 40 + i * 7) % 256),
  };
}

/** A tiny-vlm saved to a folder, for tests that need a model on disk. */
export function saveTinyModel(dir: string, seed = 0): void {
  const tokenizer = new TextTokenizer(
    buildWordTokenizerJson([...shapeNames, 'Find', 'every', 'No', 'Objects']) as never,
  );
  const policy = TinyVlmPolicy.create({ ...tinyConfig, maxPositions: 160 }, tokenizer, seed);
  policy.save(dir);
  policy.dispose();
}

/** The patch losses `logProbs` reports for these inputs: the classifier's, and the box head's if any. */
export function patchLosses(
  policy: TinyVlmPolicy,
  inputs: PromptInput[],
): { classes: number; boxes?: number } {
  return tf.tidy(() => {
    const prepared = policy.prepare(inputs);
    const result = policy.logProbs(prepared, [{ promptIndex: 0, tokenIds: [policy.tokenizer.eos] }]);
    prepared.dispose();
    return {
      classes: result.patchLoss!.dataSync()[0]!,
      ...(result.patchBoxLoss && { boxes: result.patchBoxLoss.dataSync()[0]! }),
    };
  });
}
