/**
 * Pascal VOC: one XML file per image (filename, size, objects with name and bndbox). VOC pixel
 * coordinates are 1-based and inclusive (xmin = 1 is the first column, xmax the last column the
 * box covers), so in our continuous xyxy frame x1 = xmin − 1 and x2 = xmax; the writer does the
 * inverse, so a box survives the round trip unchanged.
 *
 * VOC files carry no category list, so the order comes from labels.txt (one name per line, what
 * the exporter writes) or CVAT's labelmap.txt when present, then from first appearance.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { firstFile, listFiles, notARegularFile, readText, refuse, tidy, tidyBox, uniqueStems } from './files';
import { exportFolder } from '../safeWrite';
import type { DatasetFormat, ExportWriter, SourceImage } from './types';
import { child, children, escapeXml, parseXml, XmlError, type XmlElement } from './xml';

export const vocFormat: DatasetFormat = {
  async read(dir, context) {
    let files = listFiles(dir, (name) => name.toLowerCase().endsWith('.xml'));
    if (files.length === 0) refuse(dir, '', 'holds no Pascal VOC .xml files');
    const categories = labelOrder(dir);
    const images: SourceImage[] = [];
    const missing: { path: string; reason: string }[] = [];
    // A pipe or device named *.xml would block the read forever: listed as skipped instead.
    files = files.filter((file) => {
      const problem = notARegularFile(file);
      if (problem) missing.push({ path: file, reason: `${problem}: skipped` });
      return !problem;
    });
    const batch = 64;
    for (let start = 0; start < files.length; start += batch) {
      if (context.signal?.aborted) break; // the importer reports the cancellation
      const slice = files.slice(start, start + batch);
      const texts = await Promise.all(slice.map((file) => readFile(file, 'utf8')));
      slice.forEach((file, k) => {
        const { image, notFound } = readVocFile(dir, file, texts[k]!);
        if (notFound) missing.push(notFound);
        else images.push(image);
        for (const b of image.boxes) if (!categories.includes(b.category)) categories.push(b.category);
      });
      context.progress?.(Math.min(start + batch, files.length), files.length);
    }
    return { categories, images, missing, warnings: [] };
  },
};

function labelOrder(dir: string): string[] {
  const file = firstFile([path.join(dir, 'labels.txt'), path.join(dir, 'labelmap.txt')]);
  if (!file) return [];
  const names = readText(file)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => (file.endsWith('labelmap.txt') ? line.split(':')[0]!.trim() : line))
    .filter((name) => name !== '' && !(file.endsWith('labelmap.txt') && name === 'background'));
  return [...new Set(names)];
}

function readVocFile(
  dir: string,
  file: string,
  text: string,
): { image: SourceImage; notFound?: { path: string; reason: string } } {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (error) {
    if (error instanceof XmlError) refuse(file, '', `not well-formed XML (${error.message})`);
    throw error;
  }
  if (root.name !== 'annotation') {
    refuse(
      file,
      `line ${root.line}`,
      `the root element is <${root.name}>, not <annotation>: not a Pascal VOC file`,
    );
  }
  const filename = child(root, 'filename')?.text ?? '';
  const stated = child(root, 'path')?.text ?? '';
  if (filename === '' && stated === '')
    refuse(file, `line ${root.line}`, 'has no <filename> naming the image');
  const xmlDir = path.dirname(file);
  const name = filename || path.basename(stated);
  const candidates = [
    ...(path.isAbsolute(stated) ? [stated] : []),
    path.join(xmlDir, name),
    path.join(xmlDir, '..', 'JPEGImages', name),
    path.join(dir, 'JPEGImages', name),
    path.join(dir, 'images', name),
    path.join(dir, name),
  ];
  const found = firstFile(candidates);
  const size = child(root, 'size');
  const width = Number(size && child(size, 'width')?.text);
  const height = Number(size && child(size, 'height')?.text);
  const image: SourceImage = {
    path: found ?? '',
    where: path.relative(dir, file),
    boxes: children(root, 'object').map((object, i) => readObject(file, object, i)),
    statedEmpty: true,
    declaredSize: width > 0 && height > 0 ? { width, height } : undefined,
  };
  if (found) return { image };
  return { image, notFound: { path: path.join(xmlDir, name), reason: `not found (${path.basename(file)})` } };
}

function readObject(file: string, object: XmlElement, index: number) {
  const name = child(object, 'name')?.text ?? '';
  if (name === '') refuse(file, `line ${object.line}, object ${index + 1}`, 'has no <name>');
  const where = `line ${object.line}, object ${index + 1} ("${name}")`;
  const bndbox = child(object, 'bndbox');
  if (!bndbox) refuse(file, where, 'has no <bndbox>');
  const coordinate = (tag: string) => {
    const text = child(bndbox, tag)?.text;
    if (text === undefined) refuse(file, where, `<bndbox> has no <${tag}>`);
    const value = Number(text);
    if (text === '' || !Number.isFinite(value)) refuse(file, where, `<${tag}> "${text}" is not a number`);
    return value;
  };
  const [xmin, ymin, xmax, ymax] = ['xmin', 'ymin', 'xmax', 'ymax'].map(coordinate) as [
    number,
    number,
    number,
    number,
  ];
  if (xmax < xmin) refuse(file, where, `xmax ${xmax} is less than xmin ${xmin}`);
  if (ymax < ymin) refuse(file, where, `ymax ${ymax} is less than ymin ${ymin}`);
  const box: Box = tidyBox({ x1: xmin - 1, y1: ymin - 1, x2: xmax, y2: ymax });
  return { category: name, file, where, frame: 'pixels' as const, box };
}

function vocXml(
  datasetName: string,
  image: { path: string; width: number; height: number },
  objects: string[],
): string {
  return [
    '<annotation>',
    `  <folder>${escapeXml(path.basename(path.dirname(image.path)))}</folder>`,
    `  <filename>${escapeXml(path.basename(image.path))}</filename>`,
    `  <path>${escapeXml(image.path)}</path>`,
    `  <source><database>${escapeXml(datasetName)}</database></source>`,
    `  <size><width>${image.width}</width><height>${image.height}</height><depth>3</depth></size>`,
    '  <segmented>0</segmented>',
    ...objects,
    '</annotation>',
    '',
  ].join('\n');
}

function vocObject(category: string, box: Box): string {
  const coordinates = [
    ['xmin', box.x1 + 1],
    ['ymin', box.y1 + 1],
    ['xmax', box.x2],
    ['ymax', box.y2],
  ].map(([tag, value]) => `<${tag}>${tidy(value as number)}</${tag}>`);
  return [
    '  <object>',
    `    <name>${escapeXml(category)}</name>`,
    '    <pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>',
    `    <bndbox>${coordinates.join('')}</bndbox>`,
    '  </object>',
  ].join('\n');
}

export const vocWriter: ExportWriter = {
  write(data, out, options = {}) {
    const ownFile = (name: string) => name.endsWith('.xml') || name === 'labels.txt';
    const files = exportFolder(out, { force: options.force, ownFile }, (dir) => {
      // The folder is not in place until it is whole: each file is written straight.
      const labels = path.join(dir, 'labels.txt');
      writeFileSync(labels, `${data.categories.join('\n')}\n`);
      const stems = uniqueStems(data.images.map((image) => image.path));
      const written = data.images.map((image, i) => {
        const file = path.join(dir, `${stems[i]}.xml`);
        const objects = image.boxes.map(({ category, box }) => vocObject(category, box));
        writeFileSync(file, vocXml(data.datasetName, image, objects));
        return file;
      });
      return [labels, ...written];
    });
    return { files };
  },
};
