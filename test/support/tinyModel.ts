/** A tiny tiny-vlm saved to a folder, for tests that need a model on disk (seconds, not hours). */
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { shapeNames } from '../../src/main/data/shapeworld';

export function saveTinyModel(dir: string, seed = 0): void {
  const tokenizer = new TextTokenizer(
    buildWordTokenizerJson([...shapeNames, 'Find', 'every', 'No', 'Objects']) as never,
  );
  const policy = TinyVlmPolicy.create(
    {
      imageSize: 16,
      patchSize: 8,
      dModel: 16,
      nHeads: 2,
      nLayers: 1,
      visionLayers: 1,
      mlpRatio: 2,
      maxPositions: 160,
    },
    tokenizer,
    seed,
  );
  policy.save(dir);
  policy.dispose();
}
