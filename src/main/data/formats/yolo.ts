/**
 * YOLO (Darknet / Ultralytics) labels: one text file per image, a line `class cx cy w h` per box,
 * centre and size normalised to 0–1 of the image as displayed; class names one per line in
 * classes.txt (or obj.names, or data.yaml's `names:`), the line number being the class index.
 *
 * Where a label file is looked for, in order:
 * - with an images.txt list (what our exporter writes, since it does not copy images): the label
 *   named by `uniqueStems` beside images.txt;
 * - beside the image, same stem (the flat layout);
 * - the image's path with its last images/ folder turned into labels/ (the images/ + labels/
 *   layout, which is also how Darknet pairs an images.txt list with its labels).
 * No label file means the image was not labelled; an empty one means it has nothing to find.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { boxToYolo } from '../../rewards/frames';
import { firstFile, isFile, isImageFile, listFiles, readText, refuse, uniqueStems } from './files';
import { exportFolder } from '../safeWrite';
import type { DatasetFormat, ExportWriter, SourceBox, SourceImage } from './types';

const classFiles = ['classes.txt', 'obj.names', 'data.yaml', 'data.yml', 'labels/classes.txt'];

/** Whether `dir` has a YOLO class list, for format detection. */
export function findClassFile(dir: string): string | undefined {
  return firstFile(classFiles.map((name) => path.join(dir, ...name.split('/'))));
}

export const yoloFormat: DatasetFormat = {
  async read(dir, context) {
    const classFile = findClassFile(dir);
    if (!classFile) {
      refuse(
        dir,
        '',
        'no class names (classes.txt, obj.names or data.yaml): write them one per line in classes.txt, line 1 being class 0',
      );
    }
    const names = readClassNames(classFile);
    const listed = readImageList(dir);
    const stems = listed ? uniqueStems(listed) : [];
    const images = (listed ?? listFiles(dir, isImageFile)).map((image, i) => ({ image, stem: stems[i] }));
    const missing = images
      .filter(({ image }) => !isFile(image))
      .map(({ image }) => ({ path: image, reason: 'not found (listed in images.txt)' }));
    const present = images.filter(({ image }) => isFile(image));
    const out: SourceImage[] = [];
    const batch = 64;
    for (let start = 0; start < present.length; start += batch) {
      if (context.signal?.aborted) break; // the importer reports the cancellation
      const slice = present.slice(start, start + batch);
      out.push(...(await Promise.all(slice.map((entry) => readImageLabels(dir, entry, names, classFile)))));
      context.progress?.(Math.min(start + batch, present.length), present.length);
    }
    return { categories: names, images: out, missing, warnings: [] };
  },
};

async function readImageLabels(
  dir: string,
  { image, stem }: { image: string; stem: string | undefined },
  names: string[],
  classFile: string,
): Promise<SourceImage> {
  const labelFile = firstFile(labelCandidates(dir, image, stem));
  const where = path.relative(dir, image);
  if (!labelFile) return { path: image, where, boxes: [], statedEmpty: false };
  const text = await readFile(labelFile, 'utf8');
  return { path: image, where, boxes: parseLabels(labelFile, text, names, classFile), statedEmpty: true };
}

function labelCandidates(dir: string, image: string, stem: string | undefined): string[] {
  const parsed = path.parse(image);
  const candidates = stem === undefined ? [] : [path.join(dir, `${stem}.txt`)];
  candidates.push(path.join(parsed.dir, `${parsed.name}.txt`));
  const parts = parsed.dir.split(path.sep);
  const at = parts.lastIndexOf('images');
  if (at >= 0) {
    parts[at] = 'labels';
    candidates.push(path.join(parts.join(path.sep), `${parsed.name}.txt`));
  }
  return candidates;
}

/** images.txt, when there is one: absolute paths, or paths relative to its folder. */
function readImageList(dir: string): string[] | undefined {
  const file = path.join(dir, 'images.txt');
  if (!isFile(file)) return undefined;
  return readText(file)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => path.resolve(dir, line));
}

function parseLabels(file: string, text: string, names: string[], classFile: string): SourceBox[] {
  const boxes: SourceBox[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `line ${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 5) {
      refuse(file, where, `expected 5 values "class cx cy w h", found ${fields.length}`);
    }
    const [cls, ...coords] = fields as [string, string, string, string, string];
    if (!/^\d+$/.test(cls)) refuse(file, where, `the class "${cls}" is not a whole number`);
    const index = Number(cls);
    if (index >= names.length) {
      refuse(
        file,
        where,
        `class ${index} is out of range: ${path.basename(classFile)} names ${names.length} classes (0–${names.length - 1})`,
      );
    }
    const values = coords.map((v) => {
      const n = Number(v);
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) || !Number.isFinite(n)) {
        refuse(file, where, `"${v}" is not a number`);
      }
      return n;
    }) as [number, number, number, number];
    boxes.push({ category: names[index]!, file, where, frame: 'yolo', cxcywh: values });
  });
  return boxes;
}

/** Class names in index order, from a one-per-line list or a data.yaml `names:` entry. */
function readClassNames(file: string): string[] {
  const text = readText(file);
  const entries = /\.ya?ml$/i.test(file) ? yamlNames(file, text) : lineNames(text);
  const seen = new Map<string, string>();
  for (const { name, where } of entries) {
    if (name === '') refuse(file, where, 'an empty class name');
    const earlier = seen.get(name);
    if (earlier)
      refuse(file, where, `"${name}" is also the name on ${earlier}: each class needs its own name`);
    seen.set(name, where);
  }
  if (entries.length === 0) refuse(file, '', 'names no classes');
  return entries.map((e) => e.name);
}

function lineNames(text: string): { name: string; where: string }[] {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  return lines.map((name, i) => ({ name, where: `line ${i + 1}` }));
}

/**
 * The simple shapes of `names:` in a data.yaml: an inline list `[a, 'b c']`, a block of `- name`
 * lines, or a block of `0: name` lines (Ultralytics).
 */
function yamlNames(file: string, text: string): { name: string; where: string }[] {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((line) => /^names\s*:/.test(line));
  if (at < 0) refuse(file, '', 'has no "names:" entry listing the classes');
  const unquote = (s: string) =>
    s
      .trim()
      .replace(/^(['"])(.*)\1$/, '$2')
      .trim();
  const inline = lines[at]!.replace(/^names\s*:\s*/, '').replace(/\s+#.*$/, '');
  if (inline.startsWith('[')) {
    if (!inline.endsWith(']'))
      refuse(file, `line ${at + 1}`, 'the names list must be on one line: names: [a, b]');
    return inline
      .slice(1, -1)
      .split(',')
      .map((name) => ({ name: unquote(name), where: `line ${at + 1}` }));
  }
  if (inline !== '') refuse(file, `line ${at + 1}`, 'names: must be a list: names: [a, b]');
  const entries: { name: string; where: string }[] = [];
  for (let i = at + 1; i < lines.length && /^\s+\S/.test(lines[i]!); i++) {
    const item = /^\s+(?:-\s*(.*)|(\d+)\s*:\s*(.*))$/.exec(lines[i]!);
    if (!item) refuse(file, `line ${i + 1}`, 'expected "- name" or "N: name" under names:');
    if (item[2] !== undefined && Number(item[2]) !== entries.length) {
      refuse(file, `line ${i + 1}`, `class ${item[2]} is out of order: expected ${entries.length}`);
    }
    entries.push({ name: unquote(item[1] ?? item[3] ?? ''), where: `line ${i + 1}` });
  }
  return entries;
}

/** Six decimals, as YOLO tools write: within half a millionth of the image's side. */
const decimals = 6;

export const yoloWriter: ExportWriter = {
  write(data, out, options = {}) {
    const ownFile = (name: string) => name.endsWith('.txt');
    const files = exportFolder(out, { force: options.force, ownFile }, (dir) => {
      // The folder is not in place until it is whole: each file is written straight.
      const written = [path.join(dir, 'classes.txt'), path.join(dir, 'images.txt')];
      writeFileSync(written[0]!, `${data.categories.join('\n')}\n`);
      writeFileSync(written[1]!, data.images.map((image) => `${image.path}\n`).join(''));
      const stems = uniqueStems(data.images.map((image) => image.path));
      data.images.forEach((image, i) => {
        // Every image gets a file, empty when it has no box (YOLO's "background image").
        const lines = image.boxes.map(({ category, box }) => {
          const values = boxToYolo(box, image).map((v) => v.toFixed(decimals));
          return `${data.categories.indexOf(category)} ${values.join(' ')}\n`;
        });
        const file = path.join(dir, `${stems[i]}.txt`);
        writeFileSync(file, lines.join(''));
        written.push(file);
      });
      return written;
    });
    return { files };
  },
};
