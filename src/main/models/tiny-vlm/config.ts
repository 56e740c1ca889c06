/**
 * tiny-vlm's configuration and the geometry it implies: how many patch tokens an image makes, how
 * many numbers each holds, and the layers of the convolutional stems.
 */
export interface TinyVlmConfig {
  /** Side of the square model input, pixels. */
  imageSize: number;
  patchSize: number;
  dModel: number;
  nHeads: number;
  /** Decoder layers. */
  nLayers: number;
  /** Vision encoder layers. */
  visionLayers: number;
  mlpRatio: number;
  vocabSize: number;
  /** Decoder positions: image tokens + prompt + answer. */
  maxPositions: number;
  /** For each token id, its integer value 0–1000, or −1. */
  numberValues: number[];
  /**
   * How pixels become patch tokens: 'patch' (default) embeds each patchSize² patch linearly;
   * 'conv' runs convolutions (3×3 at full size, then stride-2 steps down to one token per patch),
   * which learn where an edge lies within a patch far sooner — what box coordinates need;
   * 'conv-s2' is the same with a stride-2 first layer (a quarter of the cost, the stride-1 layer
   * moved to half size); 'cnn' is a deeper convolutional network (per halving a 3×3 stride-2 layer
   * and a 3×3 stride-1 one, channels doubling from 32, then 1×1 to dModel), whose receptive field
   * covers a whole shape, so its tokens say which shape they lie on.
   */
  stem?: 'patch' | 'conv' | 'conv-s2' | 'cnn';
  /**
   * The patch classifier, which pretraining trains to say which shape (or background, class 0)
   * each patch lies on: a dense signal that teaches the encoder to recognise shapes long before
   * the decoder's answers would. Class k ≥ 1 is scored by the embedding of the word naming it
   * (these token ids), so a patch's features come to resemble its shape's word, the word a
   * question asks for. Absent: no classifier. Generation never uses it.
   */
  patchClassTokens?: number[];
  /**
   * The patch box head, trained beside the classifier: from each patch on a shape, that shape's
   * box (x1, y1, x2, y2), each scored over the values 0–1000 by the number tokens' embeddings, as
   * FCOS regresses a box from every pixel inside it. A dense signal that teaches the encoder where
   * its shapes end thousands of steps before the decoder's answers would, in the very embeddings
   * the answers write. Absent: no head. Generation never uses it.
   */
  patchBoxHead?: boolean;
  lora?: { rank: number; alpha: number } | null;
}

/** The convolutional stem: [kernel, stride, padding, output channels] per layer, the last = dModel. */
export function convStemLayers(c: TinyVlmConfig): [number, number, number, number][] {
  const steps = Math.log2(c.patchSize);
  if (c.stem === 'cnn') {
    if (!Number.isInteger(steps) || steps < 1) throw new Error('a cnn stem needs a power-of-two patchSize');
    const layers: [number, number, number, number][] = [[3, 2, 1, 32]];
    for (let i = 1; i < steps; i++) layers.push([3, 1, 1, 32 * 2 ** i], [3, 2, 1, 32 * 2 ** i]);
    layers.push([3, 1, 1, 32 * 2 ** (steps - 1)], [1, 1, 0, c.dModel]);
    return layers;
  }
  const strided = c.stem === 'conv-s2';
  if (!Number.isInteger(steps) || steps < (strided ? 2 : 1))
    throw new Error(`a ${c.stem} stem needs a power-of-two patchSize ≥ ${strided ? 4 : 2}`);
  const layers: [number, number, number, number][] = [[3, strided ? 2 : 1, 1, 32]];
  for (let i = 1; i < steps; i++) {
    const stride = strided && i === steps - 1 ? 1 : 2;
    layers.push([3, stride, 1, Math.min(32 * 2 ** (i - 1), c.dModel)]);
  }
  layers.push([2, 2, 0, c.dModel]);
  return layers;
}

export function hasConvStem(c: TinyVlmConfig): boolean {
  return c.stem === 'conv' || c.stem === 'conv-s2' || c.stem === 'cnn';
}

export function patchCount(c: TinyVlmConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}

export function patchDim(c: TinyVlmConfig): number {
  return c.patchSize * c.patchSize * 3;
}
