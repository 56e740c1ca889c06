import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError, type Values } from '../../src/main/commands/command';
import { synthCommand } from '../../src/main/commands/synth';
import { decodePng } from '../../src/main/data/png';
import {
  importShapeWorld,
  novelCategories,
  sampleTask,
  shapeNames,
  shapeWorldVersion,
  writeShapeWorld,
  deriveSeed,
  type ShapeWorldArgs,
} from '../../src/main/data/shapeworld/index';
import { checkCocoGt } from '../../src/main/eval/cocoFiles';
import { listAnnotations } from '../../src/main/store/annotations';
import { listCategories } from '../../src/main/store/categories';
import { listDatasets } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { getImage } from '../../src/main/store/images';
import { UserError } from '../../src/shared/errors';

const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-synth-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

let counter = 0;
const fresh = (name: string) => path.join(root, `${name}-${++counter}`);

/** Every file under `dir`, relative path → bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(rel);
      else files.set(rel, readFileSync(path.join(dir, rel)));
    }
  };
  walk('');
  return files;
}

interface CocoFile {
  images: { id: number; file_name: string; width: number; height: number; description: string }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: number;
    bbox: number[];
    area: number;
    iscrowd: number;
    attributes: { color: string; texture: string; size: string };
  }[];
  categories: { id: number; name: string; supercategory: string }[];
  vrft: {
    generator: string;
    version: number;
    task: string;
    seed: number;
    split: string;
    tasks: Record<string, unknown>[];
  };
}

const readCoco = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, 'annotations.json'), 'utf8')) as CocoFile;

/** Runs the command in-process; returns its exit code and what it printed. */
async function synth(values: Values): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const code = await synthCommand.run(values, []);
  vi.restoreAllMocks();
  return { code, stdout };
}

describe('writeShapeWorld', () => {
  const args = (out: string): ShapeWorldArgs => ({
    task: 'detection',
    images: 6,
    seed: 11,
    out,
    split: 'all',
  });

  it('writes byte-identical files for the same arguments, in the same folder or another', () => {
    const a = fresh('same');
    writeShapeWorld(args(a));
    const first = snapshot(a);
    expect([...first.keys()].sort()).toEqual([
      'annotations.json',
      ...Array.from({ length: 6 }, (_, i) => path.join('images', `00000${i + 1}.png`)),
    ]);
    writeShapeWorld(args(a));
    const b = fresh('other');
    writeShapeWorld(args(b));
    for (const again of [snapshot(a), snapshot(b)]) {
      expect([...again.keys()].sort()).toEqual([...first.keys()].sort());
      for (const [file, bytes] of first) expect(again.get(file)!.equals(bytes), file).toBe(true);
    }
    const c = fresh('seed');
    writeShapeWorld({ ...args(c), seed: 12 });
    expect(snapshot(c).get('annotations.json')!.equals(first.get('annotations.json')!)).toBe(false);
  });

  it('is prefix-stable: the first images of a larger dataset are the smaller one', () => {
    const small = fresh('small');
    const large = fresh('large');
    writeShapeWorld({ ...args(small), images: 3 });
    writeShapeWorld({ ...args(large), images: 5 });
    for (const name of ['000001.png', '000002.png', '000003.png']) {
      expect(
        readFileSync(path.join(small, 'images', name)).equals(readFileSync(path.join(large, 'images', name))),
      ).toBe(true);
    }
    expect(readCoco(large).vrft.tasks.slice(0, 3)).toEqual(readCoco(small).vrft.tasks);
  });

  it('writes COCO ground truth that checkCocoGt accepts, matching the images and the task items', () => {
    for (const task of ['detection', 'classification', 'rec', 'ovd'] as const) {
      const out = fresh(task);
      const summary = writeShapeWorld({
        task,
        images: 5,
        seed: 3,
        out,
        split: 'base',
        width: 96,
        height: 96,
      });
      const coco = readCoco(out);
      expect(() => checkCocoGt(coco)).not.toThrow();
      expect(coco.categories).toEqual(
        shapeNames.map((name, i) => ({
          id: i + 1,
          name,
          supercategory: novelCategories.includes(name) ? 'novel' : 'base',
        })),
      );
      expect(coco.vrft).toMatchObject({
        generator: 'shapeworld',
        version: shapeWorldVersion,
        task,
        seed: 3,
        split: 'base',
      });
      expect(summary).toEqual({
        dir: out,
        images: 5,
        objects: coco.annotations.length,
        categoriesPresent: new Set(coco.annotations.map((a) => a.category_id)).size,
      });
      coco.images.forEach((image, i) => {
        expect(image).toMatchObject({
          id: i + 1,
          file_name: `images/00000${i + 1}.png`,
          width: 96,
          height: 96,
        });
        const png = decodePng(readFileSync(path.join(out, image.file_name)));
        // The file is the scene the item was made from: same pixels, boxes and description.
        const { scene, task: item } = sampleTask(task, deriveSeed(3, image.id), {
          width: 96,
          height: 96,
          split: 'base',
        });
        expect(Buffer.from(png.rgb).equals(Buffer.from(scene.rgb))).toBe(true);
        expect(image.description).toBe(scene.description);
        expect(coco.vrft.tasks[i]).toEqual({ image_id: image.id, ...item });
        const boxes = coco.annotations.filter((a) => a.image_id === image.id);
        expect(boxes.map((a) => [shapeNames[a.category_id - 1], a.bbox, a.attributes])).toEqual(
          scene.objects.map((o) => [
            o.shape,
            [o.box.x1, o.box.y1, o.box.x2 - o.box.x1, o.box.y2 - o.box.y1],
            { color: o.color, texture: o.texture, size: o.size },
          ]),
        );
        for (const a of boxes) expect(a.area).toBe(a.bbox[2]! * a.bbox[3]!);
      });
      if (task === 'classification')
        for (const image of coco.images)
          expect(coco.annotations.filter((a) => a.image_id === image.id)).toHaveLength(1);
    }
  });

  it('refuses a folder that holds something else, and replaces an earlier dataset whole', () => {
    const mine = fresh('mine');
    mkdirSync(mine);
    writeFileSync(path.join(mine, 'thesis.txt'), 'do not delete');
    expect(() => writeShapeWorld(args(mine))).toThrow(UserError);
    expect(readFileSync(path.join(mine, 'thesis.txt'), 'utf8')).toBe('do not delete');

    const out = fresh('shrink');
    writeShapeWorld({ ...args(out), images: 4 });
    writeShapeWorld({ ...args(out), images: 2 });
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['000001.png', '000002.png']);
  });
});

describe('importShapeWorld', () => {
  it('creates the dataset, its 12 categories in order, images and boxes in one go', () => {
    const out = fresh('import');
    writeShapeWorld({ task: 'ovd', images: 4, seed: 5, out, split: 'all' });
    const coco = readCoco(out);
    const db = openStore(':memory:');
    try {
      const dataset = importShapeWorld(db, { datasetName: 'shapes', dir: out });
      expect(dataset).toMatchObject({
        name: 'shapes',
        imageCount: 4,
        annotationCount: coco.annotations.length,
      });
      expect(listCategories(db, dataset.id).map((c) => c.name)).toEqual(shapeNames);
      const image = getImage(db, 1)!;
      const bytes = readFileSync(path.join(out, 'images', '000001.png'));
      expect(image).toMatchObject({
        path: path.join(out, 'images', '000001.png'),
        sha256: createHash('sha256').update(bytes).digest('hex'),
        width: 128,
        height: 128,
      });
      const [x, y, w, h] = coco.annotations[0]!.bbox as [number, number, number, number];
      expect(listAnnotations(db, 1)[0]).toMatchObject({
        x1: x,
        y1: y,
        x2: x + w,
        y2: y + h,
        source: 'human',
      });

      expect(() => importShapeWorld(db, { datasetName: 'shapes', dir: out })).toThrow(/already exists/);
      expect(listDatasets(db)).toHaveLength(1);
      expect(() => importShapeWorld(db, { datasetName: 'other', dir: fresh('nothing') })).toThrow(
        /does not exist/,
      );
    } finally {
      db.close();
    }
  });
});

describe('vrft synth', () => {
  it('writes a dataset and imports it into the workspace at --data', async () => {
    const out = fresh('cli');
    const data = fresh('data');
    const { code, stdout } = await synth({
      task: 'detection',
      images: '8',
      seed: '7',
      out,
      size: '64',
      split: 'novel',
      dataset: 'synthetic shapes',
      data,
    });
    expect(code).toBe(0);
    const coco = readCoco(out);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stdout).toContain(`wrote 8 detection images, ${coco.annotations.length} objects`);
    expect(stdout).toContain(out);
    expect(stdout).toContain('"synthetic shapes"');
    expect(coco.images.every((i) => i.width === 64 && i.height === 64)).toBe(true);
    expect(coco.annotations.every((a) => novelCategories.includes(shapeNames[a.category_id - 1]!))).toBe(
      true,
    );

    const db = openStore(workspaceDbPath(data));
    try {
      expect(listDatasets(db)).toEqual([
        expect.objectContaining({
          name: 'synthetic shapes',
          imageCount: 8,
          annotationCount: coco.annotations.length,
        }),
      ]);
    } finally {
      db.close();
    }
    // The same name again is refused before anything is written.
    const again = fresh('again');
    await expect(
      synth({ task: 'rec', images: '1', seed: '1', out: again, dataset: 'synthetic shapes', data }),
    ).rejects.toThrow(UsageError);
    expect(() => readdirSync(again)).toThrow();
  });

  it('writes without a workspace when --dataset is not given', async () => {
    const out = fresh('plain');
    const { code, stdout } = await synth({ task: 'classification', images: '3', seed: '0', out });
    expect(code).toBe(0);
    expect(stdout).not.toContain('imported');
    expect(readCoco(out).vrft).toMatchObject({ task: 'classification', split: 'base', seed: 0 });
  });

  it.each([
    [{ task: 'segmentation' }, /--task must be one of detection, classification, rec, ovd/],
    [{ images: '0' }, /--images wants a whole number from 1/],
    [{ images: 'ten' }, /--images wants a whole number/],
    [{ seed: '-1' }, /--seed wants a whole number/],
    [{ seed: undefined }, /--seed is required/],
    [{ out: undefined }, /--out is required/],
    [{ size: '12' }, /--size wants a whole number from 32/],
    [{ split: 'rare' }, /--split must be one of base, novel, all/],
    [{ data: '/tmp/x' }, /--data only matters with --dataset/],
  ] as [Values, RegExp][])('refuses %o with a usage error', async (bad, message) => {
    const values: Values = { task: 'detection', images: '2', seed: '1', out: fresh('bad'), ...bad };
    await expect(synthCommand.run(values, [])).rejects.toThrow(message);
    await expect(synthCommand.run(values, [])).rejects.toBeInstanceOf(UsageError);
  });

  it('turns an occupied --out folder into a usage error', async () => {
    const out = fresh('occupied');
    mkdirSync(out);
    writeFileSync(path.join(out, 'notes.md'), 'mine');
    await expect(synth({ task: 'ovd', images: '1', seed: '1', out })).rejects.toThrow(
      /not empty and is not a ShapeWorld/,
    );
  });
});
