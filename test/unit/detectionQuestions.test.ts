import { describe, expect, it } from 'vitest';
import { tinyVlmPrompts } from '../../src/main/models/tiny-vlm/prompts';
import {
  detectionExamples,
  detectionQuestions,
  type DatasetImage,
} from '../../src/main/train/datasetExamples';

const box = { x1: 1, y1: 1, x2: 5, y2: 5 };
/** 8 images of 4 categories, each image holding one of them: 8 positive and 24 negative questions. */
const images: DatasetImage[] = Array.from({ length: 8 }, (_, i) => ({
  imageId: i + 1,
  image: { width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3) },
  boxes: [{ category: ['a', 'b', 'c', 'd'][i % 4]!, box }],
}));
const categories = ['a', 'b', 'c', 'd'];
const positive = (q: { img: DatasetImage; category: string }) =>
  q.img.boxes.some((b) => b.category === q.category);

describe('detection questions', () => {
  it('asks every positive and, with share 0, no negative', () => {
    const questions = detectionQuestions(images, categories, 0, 1);
    expect(questions).toHaveLength(8);
    expect(questions.every(positive)).toBe(true);
  });

  it('keeps negatives to the share, drawn reproducibly from the seed, in image then category order', () => {
    const questions = detectionQuestions(images, categories, 0.25, 1);
    const negatives = questions.filter((q) => !positive(q));
    expect(questions.filter(positive)).toHaveLength(8);
    expect(negatives).toHaveLength(2); // 2 of 10 ≤ 25 %
    expect(detectionQuestions(images, categories, 0.25, 1)).toEqual(questions);
    const keys = questions.map((q) => q.img.imageId * 4 + categories.indexOf(q.category));
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    const other = detectionQuestions(images, categories, 0.25, 2).filter((q) => !positive(q));
    expect(other.map((q) => `${q.img.imageId}${q.category}`)).not.toEqual(
      negatives.map((q) => `${q.img.imageId}${q.category}`),
    );
  });

  it('asks every question with share 1', () => {
    expect(detectionQuestions(images, categories, 1, 1)).toHaveLength(32);
  });
});

const tinyVlmAsking = {
  prompts: tinyVlmPrompts,
  frame: 'norm1000' as const,
  inputSize: (s: { width: number; height: number }) => s,
};

describe('detection SFT examples', () => {
  it('fill the thinking template with the category and its objects in tiny-vlm’s words', () => {
    const img: DatasetImage = {
      imageId: 1,
      image: { width: 90, height: 90, rgb: new Uint8Array(90 * 90 * 3) },
      boxes: [
        { category: 'heart', box: { x1: 2, y1: 2, x2: 20, y2: 20 } },
        { category: 'heart', box: { x1: 35, y1: 35, x2: 55, y2: 55 } },
      ],
    };
    const [found, absent] = detectionExamples(
      [
        { img, category: 'heart' },
        { img, category: 'ring' },
      ],
      'Find every {category}: {objects}',
      tinyVlmAsking,
    );
    expect(found!.think).toBe('Find every heart: A heart at the top left. A heart in the center.');
    expect(found!.answer).toMatch(/^\[\{'Position': \[22, 22, 222, 222\]/);
    expect(absent!.think).toBe('Find every ring: No Objects.');
    expect(absent!.answer).toBe('No Objects');
  });
});
