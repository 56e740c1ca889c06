/**
 * One ShapeWorld scene from one seed: a background, 1–N shapes placed so that each keeps at least
 * 75% of itself visible, their tight boxes and a description. Pure and deterministic: the same seed
 * and options give the same bytes on every run.
 */
import type { Box } from '../../../shared/boxes';
import { describeScene, gridCell } from './describe';
import { placeShape, ringsExtent } from './geometry';
import { Rng, deriveSeed } from './random';
import {
  contrastingShade,
  paintBackground,
  paintShape,
  rasterize,
  rgbDistance,
  toBytes,
  type Coverage,
} from './raster';
import {
  baseCategories,
  checkShapeNames,
  colorRgb,
  colors,
  rotationLimit,
  sizeDiameter,
  sizes,
  textures,
  type ColorName,
  type SizeName,
  type TextureName,
} from './vocabulary';

export interface SceneObject {
  shape: string;
  color: ColorName;
  texture: TextureName;
  size: SizeName;
  /** Original-image pixels, xyxy, x2/y2 exclusive: the tight box of the object's visible pixels. */
  box: Box;
  /** Degrees, clockwise on screen, from the shape's upright pose. */
  rotation: number;
}

export interface Scene {
  width: number;
  height: number;
  /** width × height × 3 bytes, row by row. */
  rgb: Uint8Array;
  /** In reading order: by row of the 3×3 grid, then column, then centre. */
  objects: SceneObject[];
  description: string;
}

export interface SceneOptions {
  width?: number;
  height?: number;
  /** The shapes it may draw (default: the base categories). */
  shapes?: readonly string[];
  minObjects?: number;
  maxObjects?: number;
  /** Exactly one object (classification scenes). */
  single?: boolean;
  /** The sizes it may draw (default: all three). */
  sizes?: readonly SizeName[];
}

/**
 * Where an object shows in the final image: how much of each pixel of a window is the object's,
 * after the objects drawn over it. A pixel is the object's when this is ≥ 0.5 (`drawnThreshold`),
 * and its box is the tight box of those pixels.
 */
export interface ObjectLayer {
  x0: number;
  y0: number;
  width: number;
  height: number;
  /** How much of each pixel the shape covers, before anything is drawn over it. */
  coverage: Float32Array;
  visible: Float32Array;
}

export const drawnThreshold = 0.5;

/** Each object keeps at least this share of its pixels when later ones overlap it. */
const minVisibleShare = 0.75;
/** Colours this close to the background are not used in that scene. */
const minBackgroundDistance = 110;
const placementTries = 40;
const sceneRetries = 20;

export function generateScene(seed: number, options: SceneOptions = {}): Scene {
  return generateSceneLayers(seed, options).scene;
}

/** The scene and, for each of its objects (same order), the layer its box was measured on. */
export function generateSceneLayers(
  seed: number,
  options: SceneOptions = {},
): { scene: Scene; layers: ObjectLayer[] } {
  const o = resolveOptions(options);
  // A scene too crowded to place `minObjects` is redrawn from a seed derived from this one.
  for (let attempt = 0; attempt < sceneRetries; attempt++) {
    const composed = compose(new Rng(deriveSeed(seed, attempt)), o);
    if (composed.scene.objects.length >= o.minObjects) return composed;
  }
  throw new Error(
    `cannot fit ${o.minObjects} shapes in a ${o.width}×${o.height} image: lower minObjects or use a larger image`,
  );
}

interface ResolvedOptions {
  width: number;
  height: number;
  shapes: readonly string[];
  minObjects: number;
  maxObjects: number;
  sizes: readonly SizeName[];
}

function resolveOptions(options: SceneOptions): ResolvedOptions {
  const { width = 128, height = 128, shapes = baseCategories, single = false } = options;
  const minObjects = single ? 1 : (options.minObjects ?? 1);
  const maxObjects = single ? 1 : (options.maxObjects ?? Math.max(4, minObjects));
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
    throw new Error(`ShapeWorld images are at least 16×16 whole pixels, got ${width}×${height}`);
  }
  if (
    !Number.isInteger(minObjects) ||
    !Number.isInteger(maxObjects) ||
    minObjects < 1 ||
    maxObjects < minObjects
  ) {
    throw new Error(`need 1 ≤ minObjects ≤ maxObjects, got ${minObjects} and ${maxObjects}`);
  }
  if (shapes.length === 0) throw new Error('a scene needs at least one allowed shape');
  checkShapeNames(shapes);
  const allowedSizes = options.sizes ?? sizes;
  if (allowedSizes.length === 0 || allowedSizes.some((s) => !sizes.includes(s))) {
    throw new Error(`sizes must be some of ${sizes.join(', ')}`);
  }
  return { width, height, shapes, minObjects, maxObjects, sizes: allowedSizes };
}

interface Placed {
  object: Omit<SceneObject, 'box'>;
  cx: number;
  cy: number;
  radius: number;
  coverage: Coverage;
  visible: Float32Array;
  /** Σ coverage: the object's area before anything covers it. */
  area: number;
  /** Σ visible. */
  visibleArea: number;
}

function compose(rng: Rng, o: ResolvedOptions): { scene: Scene; layers: ObjectLayer[] } {
  const { width, height } = o;
  const background = paintBackground(rng, width, height);
  const palette = colors.filter((c) =>
    background.colors.every((b) => rgbDistance(colorRgb[c], b) >= minBackgroundDistance),
  );
  const count = rng.int(o.minObjects, o.maxObjects);
  const placed: Placed[] = [];
  for (let k = 0; k < count; k++) {
    const shape = rng.pick(o.shapes);
    const limit = rotationLimit[shape] ?? 0;
    const object = {
      shape,
      color: rng.pick(palette),
      texture: rng.pick(textures),
      size: rng.pick(o.sizes),
      rotation: Math.round(rng.range(-limit, limit) * 10) / 10 || 0,
    };
    // A crowded scene shrinks the newcomer before giving up on it.
    const fallbacks = o.sizes.filter((s) => sizes.indexOf(s) <= sizes.indexOf(object.size)).reverse();
    for (const size of fallbacks) {
      const spot = place(rng, { ...object, size }, placed, o);
      if (spot) {
        placed.push(spot);
        break;
      }
    }
  }

  const image = background.image;
  for (const p of placed) {
    const color = colorRgb[p.object.color];
    paintShape(image, width, p.coverage, {
      color,
      shade: contrastingShade(color),
      texture: p.object.texture,
      cx: p.cx,
      cy: p.cy,
      rotation: p.object.rotation,
      period: Math.max(6, p.radius * 0.6),
    });
  }

  const items = placed.map((p) => {
    const { x0, y0, width: w, height: h, alpha } = p.coverage;
    const layer: ObjectLayer = { x0, y0, width: w, height: h, coverage: alpha, visible: p.visible };
    const { shape, color, texture, size, rotation } = p.object;
    const object: SceneObject = { shape, color, texture, size, box: tightBox(layer), rotation };
    return { object, layer, cell: gridCell(object.box, width, height) };
  });
  items.sort(
    (a, b) =>
      a.cell.row - b.cell.row ||
      a.cell.col - b.cell.col ||
      a.object.box.y1 + a.object.box.y2 - (b.object.box.y1 + b.object.box.y2) ||
      a.object.box.x1 + a.object.box.x2 - (b.object.box.x1 + b.object.box.x2),
  );
  const objects = items.map((i) => i.object);
  return {
    scene: {
      width,
      height,
      rgb: toBytes(image),
      objects,
      description: describeScene(objects, width, height),
    },
    layers: items.map((i) => i.layer),
  };
}

/**
 * A position for the object, fully inside the image, where drawing it leaves every object already
 * placed at least 75% visible; undefined after `placementTries` misses.
 */
function place(rng: Rng, object: Placed['object'], placed: Placed[], o: ResolvedOptions): Placed | undefined {
  const side = Math.min(o.width, o.height);
  const [lo, hi] = sizeDiameter[object.size];
  const margin = 1;
  // The pose is fixed, so the extent scales with the radius: measured once.
  const unit = ringsExtent(placeShape(object.shape, 0, 0, 1, object.rotation));
  for (let t = 0; t < placementTries; t++) {
    const radius = (rng.range(lo, hi) * side) / 2;
    const [minX, maxX] = [margin - unit.minX * radius, o.width - margin - unit.maxX * radius];
    const [minY, maxY] = [margin - unit.minY * radius, o.height - margin - unit.maxY * radius];
    if (maxX < minX || maxY < minY) continue;
    const cx = rng.range(minX, maxX);
    const cy = rng.range(minY, maxY);
    const coverage = rasterize(placeShape(object.shape, cx, cy, radius, object.rotation), o.width, o.height);
    const fits = placed.every((p) => p.visibleArea - occlude(p, coverage, false) >= minVisibleShare * p.area);
    if (!fits) continue;
    for (const p of placed) p.visibleArea -= occlude(p, coverage, true);
    const area = sum(coverage.alpha);
    return { object, cx, cy, radius, coverage, visible: coverage.alpha.slice(), area, visibleArea: area };
  }
  return undefined;
}

/**
 * How much of `p` drawing `top` over it hides (Σ visible × top's coverage, in pixels); with
 * `apply`, also hides it.
 */
function occlude(p: Placed, top: Coverage, apply: boolean): number {
  const c = p.coverage;
  const xa = Math.max(c.x0, top.x0);
  const xb = Math.min(c.x0 + c.width, top.x0 + top.width);
  const ya = Math.max(c.y0, top.y0);
  const yb = Math.min(c.y0 + c.height, top.y0 + top.height);
  let hidden = 0;
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const i = (y - c.y0) * c.width + (x - c.x0);
      const lost = p.visible[i]! * top.alpha[(y - top.y0) * top.width + (x - top.x0)]!;
      hidden += lost;
      if (apply) p.visible[i] = p.visible[i]! - lost;
    }
  }
  return hidden;
}

function sum(values: Float32Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** The tight box of a layer's drawn pixels (visible ≥ 0.5), in whole pixels with exclusive ends. */
function tightBox(layer: ObjectLayer): Box {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let row = 0; row < layer.height; row++) {
    for (let col = 0; col < layer.width; col++) {
      if (layer.visible[row * layer.width + col]! < drawnThreshold) continue;
      x1 = Math.min(x1, col);
      x2 = Math.max(x2, col + 1);
      y1 = Math.min(y1, row);
      y2 = Math.max(y2, row + 1);
    }
  }
  if (x1 === Infinity) throw new Error('a placed object has no drawn pixel (placement keeps 75% visible)');
  return { x1: layer.x0 + x1, y1: layer.y0 + y1, x2: layer.x0 + x2, y2: layer.y0 + y2 };
}
