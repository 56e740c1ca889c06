// Classification prompts list their candidates: pre-training must teach reading the list, and a
// dataset run lists its categories the same way in SFT, GRPO and evaluation.
import { describe, expect, it } from 'vitest';
import { baseCategories } from '../../src/main/data/shapeworld';
import type { Policy, PromptInput } from '../../src/main/models/policy';
import { classificationPrompt } from '../../src/main/models/tiny-vlm/prompts';
import {
  classificationExamples,
  classificationPrompts,
  type DatasetImage,
} from '../../src/main/train/datasetExamples';
import { evaluateClassification } from '../../src/main/train/evaluateClassification';
import { shapeWorldSource } from '../../src/main/train/shapeworldExamples';

const listedIn = (prompt: string) => /^What shape is this: (.*)\?$/.exec(prompt)![1]!.split(', ');

describe('classification lists its candidates', () => {
  it('pre-training: the answer is listed, and it is the only listed shape in the scene', () => {
    const examples = shapeWorldSource({
      seed: 4,
      split: 'base',
      mix: { classification: 1 },
      width: 64,
    }).batch(0, 200);
    let severalShapes = 0;
    for (const e of examples) {
      const listed = listedIn(e.prompt);
      expect(listed).toContain(e.answer);
      expect(new Set(listed).size).toBe(listed.length);
      for (const name of listed) expect(baseCategories).toContain(name);
      // The thinking describes every object of the scene.
      const inScene = listed.filter((name) => new RegExp(`\\b${name}\\b`).test(e.think!));
      expect(inScene).toEqual([e.answer]);
      if (/^There are/.test(e.think!)) severalShapes++;
    }
    // Half the scenes hold several shapes: only the list says which one to name.
    expect(severalShapes).toBeGreaterThan(60);
    expect(severalShapes).toBeLessThan(140);
  });

  it('a dataset run lists its categories, in their order, for SFT, GRPO and evaluation', () => {
    const image = (imageId: number, category: string): DatasetImage => ({
      imageId,
      image: { width: 2, height: 2, rgb: new Uint8Array(12) },
      boxes: [{ category, box: { x1: 0, y1: 0, x2: 1, y2: 1 } }],
    });
    const images = [image(1, 'heart'), image(2, 'ring'), image(3, 'heart')];
    const categories = ['ring', 'heart', 'arrow'];
    const prompt = 'What shape is this: ring, heart, arrow?';
    expect(classificationPrompt(categories)).toBe(prompt);
    expect(classificationExamples(images, categories, 'A {category}.').map((e) => e.prompt)).toEqual([
      prompt,
      prompt,
      prompt,
    ]);
    expect(classificationPrompts(images, categories).map((p) => p.prompt)).toEqual([prompt, prompt, prompt]);

    // A policy that answers the first candidate listed: right on the ring only.
    const asked: string[] = [];
    const policy = {
      prepare(batch: PromptInput[]) {
        asked.push(...batch.map((b) => b.prompt));
        return { count: batch.length, dispose() {}, first: listedIn(batch[0]!.prompt)[0] };
      },
      sample(prepared: { first: string }) {
        const text = `<think>x</think><answer>${prepared.first}</answer>`;
        return [{ promptIndex: 0, tokenIds: [], text, logProbs: [], entropies: [], truncated: false }];
      },
    } as unknown as Policy;
    const result = evaluateClassification(policy, images, { categories, maxNewTokens: 8 });
    expect(asked).toEqual([prompt, prompt, prompt]);
    expect(result.accuracy).toBeCloseTo(1 / 3);
    expect(result.perCategory).toEqual({
      heart: { accuracy: 0, images: 2 },
      ring: { accuracy: 1, images: 1 },
    });
  });
});
