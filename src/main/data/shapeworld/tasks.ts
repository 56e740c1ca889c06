/**
 * The four task kinds over ShapeWorld scenes, as plain JSON-able items (boxes in original-image
 * pixels, xyxy). One function per kind, `makeTask` to dispatch, and `sampleTask` for a data loop:
 * (kind, seed) → a fitting scene and its task, deterministic and independent of other seeds.
 *
 * - detection: one category and all its boxes; sometimes (`negativeRate`) a category absent from
 *   the image, with no boxes.
 * - classification (one-object scenes): label = the shape, the COCO category a dataset of these
 *   scenes carries — fine-grained within families (pentagon / hexagon / heptagon, square /
 *   diamond, circle / ring); texture + shape ("striped hexagon") is accepted as a synonym.
 * - rec: an expression that denotes exactly one object (see referring.ts) and its box.
 * - ovd: several categories asked (at least one present, one or two absent) and the labelled boxes
 *   of the asked ones.
 */
import type { Box } from '../../../shared/boxes';
import { tasks, type Task } from '../../rewards/registry';
import { Rng, deriveSeed } from './random';
import {
  attributeReferences,
  expressionText,
  relationReferences,
  superlativeReferences,
  type Reference,
} from './referring';
import { generateScene, type Scene, type SceneOptions } from './scene';
import { baseCategories, shapesOfSplit, type SplitName } from './vocabulary';

export type TaskKind = Task;

export interface DetectionTask {
  kind: 'detection';
  category: string;
  boxes: Box[];
}

export interface ClassificationTask {
  kind: 'classification';
  label: string;
  synonyms: string[];
}

export interface RecTask {
  kind: 'rec';
  expression: string;
  box: Box;
}

export interface OvdTask {
  kind: 'ovd';
  categories: string[];
  boxes: { box: Box; label: string }[];
}

export type TaskItem = DetectionTask | ClassificationTask | RecTask | OvdTask;

export interface TaskOptions {
  /** The categories a task may ask about (default: the base categories). */
  shapes?: readonly string[];
  /** Detection: the chance of asking for a category the image does not contain (default 0.2). */
  negativeRate?: number;
}

const defaultNegativeRate = 0.2;

function presentShapes(scene: Scene): string[] {
  return [...new Set(scene.objects.map((o) => o.shape))];
}

export function makeDetectionTask(scene: Scene, seed: number, options: TaskOptions = {}): DetectionTask {
  const rng = new Rng(seed);
  const present = presentShapes(scene);
  const absent = (options.shapes ?? baseCategories).filter((s) => !present.includes(s));
  if (absent.length > 0 && rng.chance(options.negativeRate ?? defaultNegativeRate)) {
    return { kind: 'detection', category: rng.pick(absent), boxes: [] };
  }
  const category = rng.pick(present);
  return {
    kind: 'detection',
    category,
    boxes: scene.objects.filter((o) => o.shape === category).map((o) => ({ ...o.box })),
  };
}

export function makeClassificationTask(scene: Scene): ClassificationTask {
  const [object] = scene.objects;
  if (object === undefined || scene.objects.length !== 1) {
    throw new Error(`classification needs a one-object scene, got ${scene.objects.length} objects`);
  }
  return {
    kind: 'classification',
    label: object.shape,
    synonyms: [`${object.texture} ${object.shape}`],
  };
}

/**
 * A referring expression for one object. The phrasing kind is drawn first (plain attributes half
 * the time, a superlative or a relation a quarter each) and the others are fallbacks; null when no
 * phrasing singles out any object (e.g. two identical shapes side by side).
 */
export function makeRecTask(scene: Scene, seed: number): RecTask | null {
  const rng = new Rng(seed);
  const kinds = [attributeReferences, superlativeReferences, relationReferences];
  const roll = rng.next();
  const first = roll < 0.5 ? 0 : roll < 0.75 ? 1 : 2;
  const order = [kinds[first]!, ...kinds.filter((_, i) => i !== first)];
  for (const target of rng.shuffle(scene.objects.map((_, i) => i))) {
    for (const references of order) {
      const found = references(scene, target);
      if (found.length === 0) continue;
      // Plain attributes: the fewest that work; otherwise any of them.
      const ref: Reference = references === attributeReferences ? fewest(rng, found) : rng.pick(found);
      return { kind: 'rec', expression: expressionText(ref), box: { ...scene.objects[target]!.box } };
    }
  }
  return null;
}

function fewest(rng: Rng, refs: Reference[]): Reference {
  const count = (r: Reference) => (r.kind === 'attributes' ? Object.keys(r.attributes).length : Infinity);
  const least = Math.min(...refs.map(count));
  return rng.pick(refs.filter((r) => count(r) === least));
}

export function makeOvdTask(scene: Scene, seed: number, options: TaskOptions = {}): OvdTask {
  const rng = new Rng(seed);
  const present = presentShapes(scene);
  const absent = (options.shapes ?? baseCategories).filter((s) => !present.includes(s));
  const askedPresent = present.filter(() => rng.chance(0.75));
  if (askedPresent.length === 0) askedPresent.push(rng.pick(present));
  const askedAbsent = rng.shuffle(absent).slice(0, rng.int(1, 2));
  const categories = rng.shuffle([...askedPresent, ...askedAbsent]);
  return {
    kind: 'ovd',
    categories,
    boxes: scene.objects
      .filter((o) => categories.includes(o.shape))
      .map((o) => ({ box: { ...o.box }, label: o.shape })),
  };
}

/** One task of `kind` for the scene; null when `rec` finds no unique expression. */
export function makeTask(
  scene: Scene,
  kind: TaskKind,
  seed: number,
  options: TaskOptions = {},
): TaskItem | null {
  switch (kind) {
    case 'detection':
      return makeDetectionTask(scene, seed, options);
    case 'classification':
      return makeClassificationTask(scene);
    case 'rec':
      return makeRecTask(scene, seed);
    case 'ovd':
      return makeOvdTask(scene, seed, options);
  }
}

/** The scenes each kind asks about: one large-enough object to classify, two or more to refer to. */
export function sceneOptionsFor(kind: TaskKind, shapes: readonly string[]): SceneOptions {
  if (kind === 'classification') return { shapes, single: true, sizes: ['medium', 'large'] };
  if (kind === 'rec') return { shapes, minObjects: 2, maxObjects: 4 };
  return { shapes, minObjects: 1, maxObjects: 4 };
}

export interface SampleOptions {
  width?: number;
  height?: number;
  split?: SplitName;
  negativeRate?: number;
}

/**
 * A scene and its task from one seed. A scene without a unique referring expression is redrawn
 * from a seed derived from this one, so the result still depends on `seed` alone.
 */
export function sampleTask(
  kind: TaskKind,
  seed: number,
  options: SampleOptions = {},
): { scene: Scene; task: TaskItem } {
  const shapes = shapesOfSplit(options.split ?? 'base');
  const sceneOptions: SceneOptions = {
    ...sceneOptionsFor(kind, shapes),
    width: options.width,
    height: options.height,
  };
  // The kind is in the seed so datasets of two kinds made with one seed do not share scenes.
  const stream = tasks.indexOf(kind);
  for (let attempt = 0; attempt < 50; attempt++) {
    const scene = generateScene(deriveSeed(seed, stream, 0, attempt), sceneOptions);
    const task = makeTask(scene, kind, deriveSeed(seed, stream, 1, attempt), {
      shapes,
      negativeRate: options.negativeRate,
    });
    if (task) return { scene, task };
  }
  throw new Error(`no ${kind} task found for seed ${seed} after 50 scenes`);
}
