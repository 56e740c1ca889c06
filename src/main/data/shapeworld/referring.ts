/**
 * Referring expressions over a scene, in three regular patterns:
 *   the [size] [texture] [colour] (shape-name | shape)       "the striped star", "the red shape"
 *   the (largest|smallest|leftmost|rightmost|topmost|bottommost) [texture] [colour] (shape-name | shape)
 *   the shape (left of|right of|above|below) the <attributes> "the shape left of the blue circle"
 * `resolveExpression` reads an expression back and returns every object it could denote, with
 * near-ties counted as matches, so "unique" means unique to a reader, not just to the generator.
 */
import { boxArea, type Box } from '../../../shared/boxes';
import { boxCentre } from './describe';
import type { Scene, SceneObject } from './scene';
import {
  colors,
  shapeNames,
  sizes,
  textures,
  type ColorName,
  type SizeName,
  type TextureName,
} from './vocabulary';

export interface Attributes {
  size?: SizeName;
  texture?: TextureName;
  color?: ColorName;
  shape?: string;
}

export const superlatives = [
  'largest',
  'smallest',
  'leftmost',
  'rightmost',
  'topmost',
  'bottommost',
] as const;
export type Superlative = (typeof superlatives)[number];
export const relations = ['left of', 'right of', 'above', 'below'] as const;
export type Relation = (typeof relations)[number];

export type Reference =
  | { kind: 'attributes'; attributes: Attributes }
  | { kind: 'superlative'; superlative: Superlative; attributes: Attributes }
  | { kind: 'relation'; relation: Relation; anchor: Attributes };

/** A superlative holds only if the runner-up is this much less extreme (area ratio). */
const areaMargin = 1.3;
/** …or this far behind, as a share of the image side (positions). */
const positionMargin = 0.08;

export function nounPhrase(a: Attributes): string {
  return [a.size, a.texture, a.color, a.shape ?? 'shape'].filter((w) => w !== undefined).join(' ');
}

export function expressionText(ref: Reference): string {
  if (ref.kind === 'attributes') return `the ${nounPhrase(ref.attributes)}`;
  if (ref.kind === 'superlative') return `the ${ref.superlative} ${nounPhrase(ref.attributes)}`;
  return `the shape ${ref.relation} the ${nounPhrase(ref.anchor)}`;
}

/** Reads an expression in one of the three patterns; undefined for anything else. */
export function parseExpression(text: string): Reference | undefined {
  const words = text.trim().toLowerCase().split(/\s+/);
  if (words[0] !== 'the') return undefined;
  const relation = /^the shape (left of|right of|above|below) the (.+)$/.exec(words.join(' '));
  if (relation) {
    const anchor = parseNoun(relation[2]!.split(' '));
    return anchor && { kind: 'relation', relation: relation[1] as Relation, anchor };
  }
  const superlative = superlatives.find((s) => s === words[1]);
  if (superlative) {
    const attributes = parseNoun(words.slice(2));
    return attributes && attributes.size === undefined
      ? { kind: 'superlative', superlative, attributes }
      : undefined;
  }
  const attributes = parseNoun(words.slice(1));
  return attributes && { kind: 'attributes', attributes };
}

/** `[size] [texture] [colour] noun`, each at most once and in that order. */
function parseNoun(words: string[]): Attributes | undefined {
  const noun = words.at(-1);
  if (noun === undefined || (noun !== 'shape' && !shapeNames.includes(noun))) return undefined;
  const a: Attributes = noun === 'shape' ? {} : { shape: noun };
  const slots: [readonly string[], keyof Attributes][] = [
    [sizes, 'size'],
    [textures, 'texture'],
    [colors, 'color'],
  ];
  let slot = 0;
  for (const word of words.slice(0, -1)) {
    while (slot < slots.length && !slots[slot]![0].includes(word)) slot++;
    if (slot === slots.length) return undefined;
    (a as Record<string, string>)[slots[slot]![1]] = word;
    slot++;
  }
  return a;
}

export function matches(o: SceneObject, a: Attributes): boolean {
  return (
    (a.size === undefined || o.size === a.size) &&
    (a.texture === undefined || o.texture === a.texture) &&
    (a.color === undefined || o.color === a.color) &&
    (a.shape === undefined || o.shape === a.shape)
  );
}

function matching(scene: Scene, a: Attributes): number[] {
  return scene.objects.flatMap((o, i) => (matches(o, a) ? [i] : []));
}

/**
 * Indices of every object the expression could denote; empty when it cannot be read or its anchor
 * is not one object.
 */
export function resolveExpression(scene: Scene, expression: string): number[] {
  const ref = parseExpression(expression);
  return ref ? resolveReference(scene, ref) : [];
}

export function resolveReference(scene: Scene, ref: Reference): number[] {
  if (ref.kind === 'attributes') return matching(scene, ref.attributes);
  if (ref.kind === 'superlative') return extremes(scene, matching(scene, ref.attributes), ref.superlative);
  // "the shape left of the red circle" says nothing when there are two red circles.
  const anchors = matching(scene, ref.anchor);
  if (anchors.length !== 1) return [];
  const anchor = anchors[0]!;
  return scene.objects.flatMap((o, i) =>
    i !== anchor && related(o.box, scene.objects[anchor]!.box, ref.relation, false) ? [i] : [],
  );
}

/** The candidates that are the most (or tie within the margin for it). */
function extremes(scene: Scene, candidates: number[], superlative: Superlative): number[] {
  if (candidates.length === 0) return [];
  const side = Math.min(scene.width, scene.height);
  const score = (i: number): number => {
    const box = scene.objects[i]!.box;
    const c = boxCentre(box);
    switch (superlative) {
      case 'largest':
        return Math.log(boxArea(box));
      case 'smallest':
        return -Math.log(boxArea(box));
      case 'leftmost':
        return -c.x / side;
      case 'rightmost':
        return c.x / side;
      case 'topmost':
        return -c.y / side;
      case 'bottommost':
        return c.y / side;
    }
  };
  const margin =
    superlative === 'largest' || superlative === 'smallest' ? Math.log(areaMargin) : positionMargin;
  const best = Math.max(...candidates.map(score));
  return candidates.filter((i) => score(i) > best - margin);
}

/**
 * Whether `target` is `relation` of `anchor`. Loosely (when reading): its centre is on that side of
 * the anchor's centre and the two overlap across the other axis. Strictly (when choosing what to
 * say): its centre is beyond the anchor's edge as well.
 */
function related(target: Box, anchor: Box, relation: Relation, strict: boolean): boolean {
  const t = boxCentre(target);
  const a = boxCentre(anchor);
  const rowOverlap = Math.min(target.y2, anchor.y2) - Math.max(target.y1, anchor.y1) > 0;
  const columnOverlap = Math.min(target.x2, anchor.x2) - Math.max(target.x1, anchor.x1) > 0;
  switch (relation) {
    case 'left of':
      return rowOverlap && t.x < (strict ? anchor.x1 : a.x);
    case 'right of':
      return rowOverlap && t.x > (strict ? anchor.x2 : a.x);
    case 'above':
      return columnOverlap && t.y < (strict ? anchor.y1 : a.y);
    case 'below':
      return columnOverlap && t.y > (strict ? anchor.y2 : a.y);
  }
}

/** Every non-empty subset of the given attribute keys, smallest first. */
function subsets<K extends keyof Attributes>(keys: readonly K[]): K[][] {
  const out: K[][] = [];
  for (let mask = 1; mask < 1 << keys.length; mask++) out.push(keys.filter((_, i) => mask & (1 << i)));
  return out.sort((a, b) => a.length - b.length);
}

function pickAttributes(o: SceneObject, keys: readonly (keyof Attributes)[]): Attributes {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Attributes;
}

const isUnique = (scene: Scene, ref: Reference, target: number) => {
  const found = resolveReference(scene, ref);
  return found.length === 1 && found[0] === target;
};

/** The plain-attribute references that single out `target`, fewest attributes first. */
export function attributeReferences(scene: Scene, target: number): Reference[] {
  const o = scene.objects[target]!;
  return subsets(['shape', 'color', 'texture', 'size'] as const)
    .map((keys): Reference => ({ kind: 'attributes', attributes: pickAttributes(o, keys) }))
    .filter((ref) => isUnique(scene, ref, target));
}

/** Superlatives among at least two candidates (else it says nothing a plain attribute would not). */
export function superlativeReferences(scene: Scene, target: number): Reference[] {
  const o = scene.objects[target]!;
  const attributeSets: Attributes[] = [
    {},
    ...subsets(['shape', 'color', 'texture'] as const).map((k) => pickAttributes(o, k)),
  ];
  const refs: Reference[] = [];
  for (const attributes of attributeSets) {
    if (matching(scene, attributes).length < 2) continue;
    for (const superlative of superlatives) {
      const ref: Reference = { kind: 'superlative', superlative, attributes };
      if (isUnique(scene, ref, target)) refs.push(ref);
    }
  }
  return refs;
}

/** "the shape <relation> the <anchor>", anchored on objects that plain attributes single out. */
export function relationReferences(scene: Scene, target: number): Reference[] {
  const refs: Reference[] = [];
  scene.objects.forEach((anchor, a) => {
    if (a === target) return;
    const anchorRef = attributeReferences(scene, a)[0];
    if (anchorRef?.kind !== 'attributes') return;
    for (const relation of relations) {
      if (!related(scene.objects[target]!.box, anchor.box, relation, true)) continue;
      const ref: Reference = { kind: 'relation', relation, anchor: anchorRef.attributes };
      if (isUnique(scene, ref, target)) refs.push(ref);
    }
  });
  return refs;
}
