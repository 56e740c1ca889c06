/**
 * ShapeWorld's vocabulary: the 12 shape categories (their order is the COCO category ids 1..12 and
 * never changes), colours, textures and sizes. Words are single lower-case tokens because the
 * built-in model's tokenizer is word-level.
 */

export type CategorySplit = 'base' | 'novel';
export type SplitName = CategorySplit | 'all';

export interface ShapeCategory {
  name: string;
  split: CategorySplit;
  /** Shapes of one family differ in a detail only (vertex count, a 45° turn, a hole). */
  family?: string;
}

export const shapeCategories: readonly ShapeCategory[] = [
  { name: 'circle', split: 'base', family: 'round' },
  { name: 'square', split: 'base', family: 'quadrilateral' },
  { name: 'triangle', split: 'base' },
  { name: 'pentagon', split: 'base', family: 'polygon' },
  { name: 'heptagon', split: 'base', family: 'polygon' },
  { name: 'star', split: 'base' },
  { name: 'cross', split: 'base' },
  { name: 'hexagon', split: 'novel', family: 'polygon' },
  { name: 'diamond', split: 'novel', family: 'quadrilateral' },
  { name: 'heart', split: 'novel' },
  { name: 'ring', split: 'novel', family: 'round' },
  { name: 'arrow', split: 'novel' },
];

export const shapeNames: readonly string[] = shapeCategories.map((c) => c.name);
export const baseCategories: readonly string[] = shapeCategories
  .filter((c) => c.split === 'base')
  .map((c) => c.name);
export const novelCategories: readonly string[] = shapeCategories
  .filter((c) => c.split === 'novel')
  .map((c) => c.name);

/** The shapes a split draws and asks about. */
export function shapesOfSplit(split: SplitName): readonly string[] {
  return split === 'base' ? baseCategories : split === 'novel' ? novelCategories : shapeNames;
}

export const colors = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'cyan', 'white'] as const;
export type ColorName = (typeof colors)[number];

/** Saturated, far apart in RGB, so each stays nameable after 2× downsampling and light noise. */
export const colorRgb: Record<ColorName, readonly [number, number, number]> = {
  red: [225, 40, 40],
  green: [40, 175, 65],
  blue: [45, 85, 230],
  yellow: [245, 215, 40],
  purple: [150, 60, 200],
  orange: [250, 140, 25],
  cyan: [40, 205, 215],
  white: [245, 245, 245],
};

export const textures = ['solid', 'striped', 'dotted'] as const;
export type TextureName = (typeof textures)[number];

export const sizes = ['small', 'medium', 'large'] as const;
export type SizeName = (typeof sizes)[number];

/**
 * Each size's diameter as a share of the image's shorter side. The gaps between the ranges keep the
 * classes apart; small is still ≥ 12% of the side for every shape.
 */
export const sizeDiameter: Record<SizeName, readonly [number, number]> = {
  small: [0.19, 0.23],
  medium: [0.27, 0.32],
  large: [0.37, 0.43],
};

/**
 * How far (degrees) a shape may turn from its upright pose. Limited where a turn would change its
 * name: a square turned 45° reads as a diamond, a cross turned 45° as an X, a triangle turned 60° as
 * one pointing down. Regular polygons, stars and arrows turn freely; circles and rings have nothing
 * to turn.
 */
export const rotationLimit: Record<string, number> = {
  circle: 0,
  ring: 0,
  square: 18,
  diamond: 15,
  triangle: 25,
  cross: 18,
  heart: 20,
  pentagon: 180,
  hexagon: 180,
  heptagon: 180,
  star: 180,
  arrow: 180,
};

export function checkShapeNames(names: readonly string[]): void {
  for (const name of names) {
    if (!shapeNames.includes(name)) {
      throw new Error(`unknown ShapeWorld shape "${name}" (shapes: ${shapeNames.join(', ')})`);
    }
  }
}
