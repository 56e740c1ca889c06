import path from 'node:path';
import { initEngine } from '../src/main/engine';
import { readSafetensors } from '../src/main/models/safetensors';
import { buildWordTokenizerJson, TextTokenizer } from '../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../src/main/models/tiny-vlm/policy';
import { detectionPrompt, boxesAnswer } from '../src/main/models/tiny-vlm/prompts';
import { heldOutImages, tinyVlmBaseConfig, tinyVlmWords } from '../src/main/train/tinyVlmBase';
await initEngine();
const policy = TinyVlmPolicy.create(
  tinyVlmBaseConfig,
  new TextTokenizer(buildWordTokenizerJson(tinyVlmWords()) as never),
  1,
);
policy.loadWeights(readSafetensors(path.join(process.argv[2]!, 'model.safetensors')).tensors);
for (const img of heldOutImages(3, 'base', 900_000_000)) {
  const cats = [...new Set(img.boxes.map((b) => b.category))];
  const prepared = policy.prepare(cats.map((c) => ({ image: img.image, prompt: detectionPrompt(c) })));
  const samples = policy.sample(prepared, { n: 1, temperature: 0, topP: 1, maxNewTokens: 150, seed: 0 });
  samples.forEach((s, i) => {
    console.log(
      'TRUTH',
      cats[i],
      boxesAnswer(
        img.boxes.filter((b) => b.category === cats[i]).map((b) => b.box),
        { width: 128, height: 128 },
      ),
    );
    console.log('MODEL', s.text);
  });
}
