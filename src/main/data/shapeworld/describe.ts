/**
 * Words for scenes: the scene description the built-in model learns as thinking text, and the noun
 * phrases referring expressions are built from. A small, regular vocabulary (one sentence pattern,
 * solid texture left unsaid) because the model's tokenizer is word-level.
 */
import type { Box } from '../../../shared/boxes';
import type { SceneObject } from './scene';

/** The 3×3 grid of box centres, row by row. */
export const positionPhrases = [
  'at the top left',
  'at the top',
  'at the top right',
  'on the left',
  'in the center',
  'on the right',
  'at the bottom left',
  'at the bottom',
  'at the bottom right',
] as const;

export function boxCentre(box: Box): { x: number; y: number } {
  return { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
}

/** Row and column (0..2) of the grid cell the box centre falls in. */
export function gridCell(box: Box, width: number, height: number): { row: number; col: number } {
  const { x, y } = boxCentre(box);
  return {
    row: Math.min(2, Math.floor((3 * y) / height)),
    col: Math.min(2, Math.floor((3 * x) / width)),
  };
}

export function positionPhrase(box: Box, width: number, height: number): string {
  const { row, col } = gridCell(box, width, height);
  return positionPhrases[row * 3 + col] as string;
}

/** "large red circle", "small striped blue star": size, texture unless solid, colour, shape. */
export function objectPhrase(object: SceneObject): string {
  const texture = object.texture === 'solid' ? [] : [object.texture];
  return [object.size, ...texture, object.color, object.shape].join(' ');
}

/**
 * `There are 3 shapes. A large red circle at the top left. A small striped blue star in the
 * center.` — one sentence per object, in the scene's object order (reading order).
 */
export function describeScene(objects: readonly SceneObject[], width: number, height: number): string {
  const count = objects.length === 1 ? 'There is 1 shape.' : `There are ${objects.length} shapes.`;
  const sentences = objects.map((o) => `A ${objectPhrase(o)} ${positionPhrase(o.box, width, height)}.`);
  return [count, ...sentences].join(' ');
}
