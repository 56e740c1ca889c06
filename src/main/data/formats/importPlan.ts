/**
 * The import's plan: every row decided before anything is written. Duplicates (by content) are
 * merged into their first copy, unreadable images are listed as skipped, and every box is turned
 * into pixels of the image as shown, clamped or refused. Pure: the images were already probed.
 */
import { clampBox, isDegenerate, type Box, type Size } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import { toPixels, yoloToBox } from '../../rewards/frames';
import type { ImageProbe } from '../imageFiles';
import { refuse } from './files';
import type { ImportReport } from './importDataset';
import type { SourceBox, SourceDataset, SourceImage, SourceLineMeta } from './types';

interface PlannedImage {
  path: string;
  sha256: string;
  width: number;
  height: number;
  negative: boolean;
  statedEmpty: boolean;
  boxes: PlannedBox[];
  label?: string;
  /** Lines about the whole image. */
  lines: SourceLineMeta[];
  /** The splits the file puts it in (a copy may sit in another). */
  splits: string[];
}

interface PlannedBox {
  category: string;
  box: Box;
  expression: string;
  crowd: boolean;
  /** The lines this box answers (a REC line; a copy of the image may bring the same line twice). */
  lines: SourceLineMeta[];
}

export interface Plan {
  categories: string[];
  images: PlannedImage[];
  duplicates: ImportReport['duplicates'];
  skipped: ImportReport['skipped'];
  warnings: string[];
}

export type Probed = Map<string, ImageProbe | { error: string }>;

/** Decides every row before anything is written: duplicates, skips, boxes in pixels. */
export function planImport(input: string, source: SourceDataset, probed: Probed): Plan {
  const plan: Plan = {
    categories: [...source.categories],
    images: [],
    duplicates: [],
    skipped: [...source.missing],
    warnings: [...source.warnings],
  };
  const bySha = new Map<string, PlannedImage>();
  const notes: Notes = { clamped: [], sizes: [] };
  for (const image of source.images) {
    const probe = probed.get(image.path)!;
    if ('error' in probe) {
      plan.skipped.push({ path: image.path, reason: probe.error });
      continue;
    }
    const planned = planImage(image, probe, notes);
    const first = bySha.get(planned.sha256);
    if (first) {
      plan.duplicates.push({ path: image.path, sameAs: first.path });
      for (const b of planned.boxes) {
        const same = first.boxes.find((f) => sameBox(f, b));
        if (same) same.lines.push(...b.lines);
        else first.boxes.push(b);
      }
      first.statedEmpty ||= planned.statedEmpty;
      first.lines.push(...planned.lines);
      if (first.label === undefined) first.label = planned.label;
      else if (planned.label !== undefined && planned.label !== first.label) {
        plan.warnings.push(
          `${image.path} is labelled "${planned.label}" (${image.where}) but its copy ${first.path} ` +
            `"${first.label}": the copy's label was kept`,
        );
      }
      for (const split of planned.splits) if (!first.splits.includes(split)) first.splits.push(split);
    } else {
      bySha.set(planned.sha256, planned);
      plan.images.push(planned);
    }
  }
  if (plan.images.length === 0) noImages(input, plan);
  const known = new Set(plan.categories);
  for (const image of plan.images) {
    // A labelled image is about its class, not an image stated to hold no objects.
    image.negative = image.statedEmpty && image.boxes.length === 0 && image.label === undefined;
    const named = image.boxes.map((b) => b.category);
    if (image.label !== undefined) named.push(image.label);
    for (const category of named) {
      if (!known.has(category)) plan.categories.push(category);
      known.add(category);
    }
  }
  if (notes.clamped.length > 0) {
    const n = notes.clamped.length;
    plan.warnings.push(
      `${n} box${n === 1 ? '' : 'es'} reached outside the image and ${n === 1 ? 'was' : 'were'} ` +
        `clamped to its edges (the first: ${notes.clamped[0]})`,
    );
  }
  plan.warnings.push(...summarise(notes.sizes, 'more images whose stated size differs'));
  return plan;
}

/** What planning noticed along the way, reported as warnings. */
interface Notes {
  clamped: string[];
  sizes: string[];
}

/** One image as it will be written: its size as shown and its boxes in pixels of that size. */
function planImage(image: SourceImage, probe: ImageProbe, notes: Notes): PlannedImage {
  const size = { width: probe.displayWidth, height: probe.displayHeight };
  const declared = image.declaredSize;
  if (declared && (declared.width !== size.width || declared.height !== size.height)) {
    notes.sizes.push(
      `${image.where} says ${declared.width}×${declared.height} but ${image.path} shows ` +
        `${size.width}×${size.height}${probe.orientation > 1 ? ' (EXIF-rotated)' : ''}: ` +
        'boxes are read on the image as shown',
    );
  }
  const boxes = image.boxes.map((b) => {
    const { box, wasClamped } = pixelBox(b, size);
    if (wasClamped) notes.clamped.push(`${b.file}, ${b.where}`);
    return {
      category: b.category,
      box,
      expression: (b.expression ?? '').replace(/\s+/g, ' ').trim(),
      crowd: b.crowd === true,
      lines: b.line ? [b.line] : [],
    };
  });
  return {
    path: image.path,
    sha256: probe.sha256,
    ...size,
    negative: false,
    statedEmpty: image.statedEmpty,
    boxes,
    label: image.label,
    lines: [...(image.lines ?? [])],
    splits: image.split === undefined ? [] : [image.split],
  };
}

function noImages(input: string, plan: Plan): never {
  const first = plan.skipped[0];
  throw new UserError(
    'invalid_input',
    first
      ? `None of the ${plan.skipped.length} images of ${input} could be imported (${first.path}: ` +
          `${first.reason}): check that the image files are where the annotation file says.`
      : `${input} names no images: nothing was imported.`,
  );
}

/** The box in pixels of the image as shown, clamped to it; a box with no area left is refused. */
function pixelBox(b: SourceBox, size: Size): { box: Box; wasClamped: boolean } {
  const box =
    b.frame === 'yolo'
      ? yoloToBox(b.cxcywh, size)
      : b.frame === 'norm1000'
        ? toPixels(b.box, 'norm1000', { image: size })
        : b.box;
  // A box a little past an edge (rounding, a sloppy drawing) is clamped; one beyond the image by
  // more than the image itself is in another frame or nonsense (1e308), and clamping would invent it.
  const far =
    ![box.x1, box.y1, box.x2, box.y2].every(Number.isFinite) ||
    Math.min(box.x1, box.x2) < -size.width ||
    Math.max(box.x1, box.x2) > 2 * size.width ||
    Math.min(box.y1, box.y2) < -size.height ||
    Math.max(box.y1, box.y2) > 2 * size.height;
  if (far) {
    const shown = [box.x1, box.y1, box.x2, box.y2].map((v) => Number(v.toPrecision(6))).join(', ');
    refuse(
      b.file,
      b.where,
      `the box [${shown}] (pixels, x1 y1 x2 y2) lies far outside the ${size.width}×${size.height} image: ` +
        'check the coordinate frame the file uses',
    );
  }
  const inside = clampBox(box, size);
  if (isDegenerate(inside)) {
    const shown = [box.x1, box.y1, box.x2, box.y2].map((v) => Number(v.toFixed(2))).join(', ');
    refuse(
      b.file,
      b.where,
      `the box [${shown}] (pixels, x1 y1 x2 y2) has no area inside the ${size.width}×${size.height} image`,
    );
  }
  const wasClamped =
    inside.x1 !== box.x1 || inside.y1 !== box.y1 || inside.x2 !== box.x2 || inside.y2 !== box.y2;
  return { box: inside, wasClamped };
}

function sameBox(a: PlannedBox, b: PlannedBox): boolean {
  return (
    a.category === b.category &&
    a.expression === b.expression &&
    a.crowd === b.crowd &&
    a.box.x1 === b.box.x1 &&
    a.box.y1 === b.box.y1 &&
    a.box.x2 === b.box.x2 &&
    a.box.y2 === b.box.y2
  );
}

/** The first few of a long list of warnings, and how many more there were. */
function summarise(warnings: string[], more: string, keep = 5): string[] {
  if (warnings.length <= keep) return warnings;
  return [...warnings.slice(0, keep), `…and ${warnings.length - keep} ${more}`];
}
