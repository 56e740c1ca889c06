import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Box } from '../../src/shared/boxes';
import { UsageError, type Values } from '../../src/main/commands/command';
import { exportCommand, importCommand, progressPrinter } from '../../src/main/commands/importExport';
import {
  exportDataset,
  importDataset,
  type ExportFormat,
  type ImportProgress,
} from '../../src/main/data/formats';
import { probeImage } from '../../src/main/data/imageFiles';
import { decodePng } from '../../src/main/data/png';
import { addAnnotation, listDatasetAnnotations } from '../../src/main/store/annotations';
import { addCategory, listCategories } from '../../src/main/store/categories';
import { createDataset, listDatasets } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath, type Db } from '../../src/main/store/db';
import { addImage, listImages } from '../../src/main/store/images';
import { createSplit } from '../../src/main/store/splits';
import { readImage } from '../../src/main/train/datasetExamples';
import { UserError } from '../../src/shared/errors';
import { jpegFile, pngFile, rgbImage, webp3x2 } from '../support/imageFiles';
import { caseWorkspaces } from '../support/workspace';

/** A fresh folder and a workspace in it, closed after the test. */
const workspace = caseWorkspaces('import');
afterEach(() => vi.restoreAllMocks());

function write(file: string, bytes: Buffer | string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

/** Categories in a deliberately non-alphabetical order; mango has no box at all. */
const categories = ['zebra', 'apple', 'mango'];

interface SourceImage {
  name: string;
  bytes: Buffer;
  boxes: [string, Box][];
  negative?: boolean;
}

const b = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });

/** PNG and JPEG images of different sizes, fractional boxes, a negative and an unlabelled image. */
function sourceImages(): SourceImage[] {
  return [
    {
      name: 'a.png',
      bytes: pngFile(64, 48, 1),
      boxes: [
        ['zebra', b(10.5, 4.25, 40, 30.75)],
        ['apple', b(0, 0, 64, 48)],
      ],
    },
    {
      name: 'photos/b.jpg',
      bytes: jpegFile(
        80,
        60,
        rgbImage(80, 60, (x, y) => [x * 3, y * 4, 90]),
      ),
      boxes: [
        ['zebra', b(5, 6, 70.125, 50)],
        ['zebra', b(1, 1, 2, 2)],
        ['apple', b(33.3, 12.7, 44.4, 55.5)],
      ],
    },
    { name: 'c.png', bytes: pngFile(50, 70, 2), boxes: [['apple', b(12, 30, 13.5, 70)]] },
    {
      name: 'photos/d.jpg',
      bytes: jpegFile(
        40,
        40,
        rgbImage(40, 40, () => [10, 200, 30]),
      ),
      boxes: [],
      negative: true,
    },
    { name: 'e.png', bytes: pngFile(30, 20, 3), boxes: [] },
  ];
}

/** A dataset built straight into the store, as annotating in the app would leave it. */
function buildDataset(db: Db, dir: string): number {
  const dataset = createDataset(db, { name: 'source' });
  const ids = new Map(categories.map((name) => [name, addCategory(db, { datasetId: dataset.id, name }).id]));
  for (const image of sourceImages()) {
    const file = write(path.join(dir, 'images', image.name), image.bytes);
    const probe = probeImage(image.bytes);
    const imageId = addImage(db, {
      datasetId: dataset.id,
      path: file,
      sha256: probe.sha256,
      width: probe.displayWidth,
      height: probe.displayHeight,
      negative: image.negative,
    });
    for (const [category, box] of image.boxes)
      addAnnotation(db, { imageId, categoryId: ids.get(category)!, box });
  }
  return dataset.id;
}

/** Every box of a dataset by image path, sorted, with the category name. */
function boxesByPath(db: Db, datasetId: number): Map<string, { category: string; box: Box }[]> {
  const names = new Map(listCategories(db, datasetId).map((c) => [c.id, c.name]));
  const paths = new Map(listImages(db, datasetId).map((image) => [image.id, image.path]));
  const out = new Map<string, { category: string; box: Box }[]>([...paths.values()].map((p) => [p, []]));
  for (const a of listDatasetAnnotations(db, datasetId)) {
    out
      .get(paths.get(a.imageId)!)!
      .push({ category: names.get(a.categoryId)!, box: b(a.x1, a.y1, a.x2, a.y2) });
  }
  for (const list of out.values())
    list.sort((p, q) => p.category.localeCompare(q.category) || p.box.x1 - q.box.x1);
  return out;
}

const outPaths: Record<ExportFormat, string> = {
  coco: 'export/coco.json',
  yolo: 'export/yolo',
  voc: 'export/voc',
  visualrft: 'export/visualrft.json',
  vlmr1: 'export/vlmr1.jsonl',
  lisa: 'export/lisa',
};

describe('export, then import: the same categories and boxes', () => {
  it.each([
    ['coco', () => 0],
    ['voc', () => 0],
    ['vlmr1', () => 0],
    // YOLO writes six decimals of the image's side; Visual-RFT rounds to 1/1000 of it.
    ['yolo', (side: number) => side * 1e-6],
    ['visualrft', (side: number) => side / 1000],
  ] as [ExportFormat, (side: number) => number][])('%s', async (format, tolerance) => {
    const { dir, dataDir, db } = workspace();
    const sourceId = buildDataset(db, dir);
    const out = path.join(dir, outPaths[format]);
    // Visual-RFT names an image only in its records: without the 'No Objects' ones, the negative
    // and unlabelled images (and mango, which has no box) would not come back.
    const negatives = format === 'visualrft';
    const exported = exportDataset(db, { datasetId: sourceId, format, out, negatives });
    expect(exported).toMatchObject({ images: 5, annotations: 6 });
    expect(exported.files.every((file) => existsSync(file))).toBe(true);

    const report = await importDataset(db, {
      path: out,
      datasetName: `back from ${format}`,
      format: 'auto',
      dataDir,
    });
    expect(report).toMatchObject({
      format,
      images: 5,
      annotations: 6,
      categories: 3,
      duplicates: [],
      skipped: [],
    });
    expect(listCategories(db, report.datasetId).map((c) => c.name)).toEqual(categories);

    const sizes = new Map(listImages(db, sourceId).map((image) => [image.path, image]));
    const before = boxesByPath(db, sourceId);
    const after = boxesByPath(db, report.datasetId);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [file, boxes] of before) {
      const again = after.get(file)!;
      expect(
        again.map((x) => x.category),
        file,
      ).toEqual(boxes.map((x) => x.category));
      const { width, height } = sizes.get(file)!;
      boxes.forEach(({ box }, i) => {
        const got = again[i]!.box;
        if (tolerance(width) === 0) expect(got, file).toEqual(box);
        for (const k of ['x1', 'x2'] as const)
          expect(Math.abs(got[k] - box[k])).toBeLessThanOrEqual(tolerance(width) + 1e-9);
        for (const k of ['y1', 'y2'] as const)
          expect(Math.abs(got[k] - box[k])).toBeLessThanOrEqual(tolerance(height) + 1e-9);
      });
    }
    const negative = listImages(db, report.datasetId).find((image) => image.path.endsWith('d.jpg'))!;
    expect(negative.negative).toBe(true);
    expect(listImages(db, report.datasetId).find((image) => image.path.endsWith('a.png'))!.negative).toBe(
      false,
    );
  });

  it('exports one split only, and COCO file names relative to the JSON when the images lie beside it', async () => {
    const { dir, dataDir, db } = workspace();
    const datasetId = buildDataset(db, dir);
    const [first, second] = listImages(db, datasetId);
    const splitId = createSplit(db, {
      datasetId,
      name: 'few',
      kind: 'train',
      imageIds: [first!.id, second!.id],
    });
    const out = path.join(dir, 'images', 'few.json');
    expect(exportDataset(db, { datasetId, splitId, format: 'coco', out })).toMatchObject({
      images: 2,
      annotations: 5,
    });
    const coco = JSON.parse(readFileSync(out, 'utf8')) as {
      images: { file_name: string }[];
      categories: unknown[];
    };
    expect(coco.images.map((i) => i.file_name)).toEqual(['a.png', 'photos/b.jpg']);
    expect(coco.categories).toEqual([
      { id: 1, name: 'zebra' },
      { id: 2, name: 'apple' },
      { id: 3, name: 'mango' },
    ]);
    const report = await importDataset(db, { path: out, datasetName: 'few', format: 'coco', dataDir });
    expect(report).toMatchObject({ images: 2, annotations: 5 });
  });
  it('keeps a box thinner than 1/1000 of the image through Visual-RFT, one unit wide', async () => {
    const { dir, dataDir, db } = workspace();
    const dataset = createDataset(db, { name: 'thin' });
    const categoryId = addCategory(db, { datasetId: dataset.id, name: 'hair' }).id;
    const bytes = pngFile(2000, 10);
    const file = write(path.join(dir, 'wide.png'), bytes);
    const imageId = addImage(db, {
      datasetId: dataset.id,
      path: file,
      sha256: probeImage(bytes).sha256,
      width: 2000,
      height: 10,
    });
    addAnnotation(db, { imageId, categoryId, box: b(100.1, 2, 100.3, 8) }); // 0.1 of a unit wide
    const out = path.join(dir, 'thin.json');
    exportDataset(db, { datasetId: dataset.id, format: 'visualrft', out });
    expect(readFileSync(out, 'utf8')).toContain("'Position': [50, 200, 51, 800]");
    const report = await importDataset(db, { path: out, datasetName: 'thin again', format: 'auto', dataDir });
    const [box] = boxesByPath(db, report.datasetId).get(file)!;
    expect(box!.box).toEqual(b(100, 2, 102, 8));
  });
});

interface VisualRftRecord {
  image_path: string;
  problem: string;
  solution: string;
}

interface VlmR1Line {
  id: number;
  image: string;
  conversations: { from: string; value: string }[];
}

const readJsonLines = (file: string): VlmR1Line[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as VlmR1Line);

describe('export options', () => {
  it("writes Visual-RFT's positive records only, and the 'No Objects' ones too when asked", () => {
    const { dir, db } = workspace();
    const datasetId = buildDataset(db, dir);
    const records = (negatives?: boolean) => {
      const out = path.join(dir, `visualrft-${String(negatives)}.json`);
      exportDataset(db, { datasetId, format: 'visualrft', out, negatives });
      return JSON.parse(readFileSync(out, 'utf8')) as VisualRftRecord[];
    };
    const named = (r: VisualRftRecord) =>
      `${path.basename(r.image_path)} ${/'([^']+)'/.exec(r.problem)![1]}${r.solution.includes('No Objects') ? ' none' : ''}`;
    expect(records().map(named)).toEqual([
      'a.png zebra',
      'a.png apple',
      'b.jpg zebra',
      'b.jpg apple',
      'c.png apple',
    ]);
    const all = records(true);
    expect(all).toHaveLength(5 * categories.length);
    expect(all.filter((r) => r.solution.includes('No Objects')).map(named)).toEqual([
      'a.png mango none',
      'b.jpg mango none',
      'c.png zebra none',
      'c.png mango none',
      'd.jpg zebra none',
      'd.jpg apple none',
      'd.jpg mango none',
      'e.png zebra none',
      'e.png apple none',
      'e.png mango none',
    ]);
  });

  it("writes VLM-R1's bbox_2d in pixels of Qwen's resized input, with a model folder's min/max pixels", () => {
    const { dir, db } = workspace();
    const datasetId = buildDataset(db, dir);
    const first = (lines: VlmR1Line[]) => lines[0]!.conversations[1]!.value;
    const pixels = path.join(dir, 'pixels.jsonl');
    exportDataset(db, { datasetId, format: 'vlmr1', out: pixels });
    expect(first(readJsonLines(pixels))).toContain('"bbox_2d":[10.5,4.25,40,30.75]');
    // a.png is 64×48: Qwen's defaults resize it to 56×56 (each side rounded to a multiple of 28).
    const resized = path.join(dir, 'resized.jsonl');
    exportDataset(db, { datasetId, format: 'vlmr1', out: resized, frame: 'resized' });
    expect(first(readJsonLines(resized))).toContain('"bbox_2d":[9,5,35,36]');
    expect(first(readJsonLines(resized))).toContain('"bbox_2d":[0,0,56,56]');
    // A folder asking for at least 112×112 pixels: 64×48 scales up to 140×112.
    const model = path.join(dir, 'qwen');
    write(path.join(model, 'config.json'), JSON.stringify({ model_type: 'qwen2_5_vl' }));
    write(path.join(model, 'preprocessor_config.json'), JSON.stringify({ min_pixels: 112 * 112 }));
    const big = path.join(dir, 'big.jsonl');
    exportDataset(db, { datasetId, format: 'vlmr1', out: big, frame: 'resized', model });
    expect(first(readJsonLines(big))).toContain('"bbox_2d":[0,0,140,112]');
  });

  it("gives each VLM-R1 line its image's workspace id, the same in every export", () => {
    const { dir, db } = workspace();
    const datasetId = buildDataset(db, dir);
    const ids = new Map(listImages(db, datasetId).map((image) => [image.path, image.id]));
    const all = path.join(dir, 'all.jsonl');
    exportDataset(db, { datasetId, format: 'vlmr1', out: all });
    const [, second, third] = listImages(db, datasetId);
    const splitId = createSplit(db, {
      datasetId,
      name: 'two',
      kind: 'train',
      imageIds: [second!.id, third!.id],
    });
    const some = path.join(dir, 'some.jsonl');
    exportDataset(db, { datasetId, splitId, format: 'vlmr1', out: some });
    for (const file of [all, some])
      for (const line of readJsonLines(file)) expect(line.id, line.image).toBe(ids.get(line.image));
    expect(readJsonLines(some).map((line) => line.id)).toEqual([second!.id, third!.id]);
  });
});

describe('importing', () => {
  it.each([
    [
      'visualrft',
      'data.json',
      (image: string) =>
        JSON.stringify([
          {
            image_path: image,
            problem: "Detect all objects belonging to the category 'cat' in the image.",
            solution: 'No Objects',
          },
        ]),
    ],
    [
      'vlmr1',
      'data.jsonl',
      (image: string) =>
        `${JSON.stringify({
          id: 1,
          image,
          conversations: [
            { from: 'human', value: '<image>Find cat.' },
            { from: 'gpt', value: 'None' },
          ],
        })}\n`,
    ],
  ] as const)(
    '%s: reads a relative image path beside the data file first, else from the working directory, and says so',
    async (format, name, content) => {
      const { dir, dataDir, db } = workspace();
      const data = write(path.join(dir, 'data', name), content('pics/one.png'));
      const cwd = path.join(dir, 'cwd');
      const fromCwd = write(path.join(cwd, 'pics', 'one.png'), pngFile(10, 10, 1));
      vi.spyOn(process, 'cwd').mockReturnValue(cwd);
      const report = await importDataset(db, { path: data, datasetName: 'from cwd', format, dataDir });
      expect(report).toMatchObject({ images: 1, skipped: [] });
      expect(listImages(db, report.datasetId).map((image) => image.path)).toEqual([fromCwd]);
      expect(report.warnings).toEqual([
        `an image path was not found beside the data file in ${path.join(dir, 'data')}; read relative to the ` +
          `working directory ${cwd} instead: pics/one.png (${format === 'vlmr1' ? 'line 1' : '[0].image_path'})`,
      ]);

      const beside = write(path.join(dir, 'data', 'pics', 'one.png'), pngFile(10, 10, 2));
      const again = await importDataset(db, { path: data, datasetName: 'beside', format, dataDir });
      expect(listImages(db, again.datasetId).map((image) => image.path)).toEqual([beside]);
      expect(again.warnings).toEqual([]);
    },
  );

  it('stores the displayed size of an EXIF-rotated JPEG, and reads COCO boxes on the image as shown', async () => {
    const { dir, dataDir, db } = workspace();
    // Stored 16 wide and 8 high; orientation 6 shows it 8 wide and 16 high.
    const jpg = write(
      path.join(dir, 'photos', 'rotated.jpg'),
      jpegFile(
        16,
        8,
        rgbImage(16, 8, () => [200, 0, 0]),
        6,
      ),
    );
    const folder = await importDataset(db, {
      path: path.join(dir, 'photos'),
      datasetName: 'folder',
      format: 'auto',
      dataDir,
    });
    expect(folder.format).toBe('folder');
    expect(listImages(db, folder.datasetId)).toEqual([
      expect.objectContaining({ path: jpg, width: 8, height: 16 }),
    ]);
    expect([readImage(jpg).width, readImage(jpg).height]).toEqual([8, 16]);

    const coco = (width: number, height: number) =>
      JSON.stringify({
        images: [{ id: 1, file_name: 'rotated.jpg', width, height }],
        annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 8, 8, 8] }],
        categories: [{ id: 1, name: 'lower half' }],
      });
    write(path.join(dir, 'photos', 'shown.json'), coco(8, 16));
    const shown = await importDataset(db, {
      path: path.join(dir, 'photos', 'shown.json'),
      datasetName: 'shown',
      format: 'auto',
      dataDir,
    });
    expect(shown.warnings).toEqual([]);
    expect(boxesByPath(db, shown.datasetId).get(jpg)).toEqual([
      { category: 'lower half', box: b(0, 8, 8, 16) },
    ]);

    write(path.join(dir, 'photos', 'stored.json'), coco(16, 8));
    const stored = await importDataset(db, {
      path: path.join(dir, 'photos', 'stored.json'),
      datasetName: 'stored',
      format: 'coco',
      dataDir,
    });
    expect(stored.warnings).toEqual([
      expect.stringMatching(/images\[0\] says 16×8 but .*rotated\.jpg shows 8×16 \(EXIF-rotated\)/),
    ]);
  });

  it('imports a copy of an image once, reports it, and merges only the boxes the first copy lacks', async () => {
    const { dir, dataDir, db } = workspace();
    const png = pngFile(40, 30, 5);
    const first = write(path.join(dir, 'x.png'), png);
    const copy = write(path.join(dir, 'z-copies', 'x-again.png'), png); // sorts after x.png
    write(path.join(dir, 'y.png'), pngFile(20, 20, 6));
    const folder = await importDataset(db, { path: dir, datasetName: 'folder', format: 'folder', dataDir });
    expect(folder).toMatchObject({ images: 2, duplicates: [{ path: copy, sameAs: first }] });

    write(
      path.join(dir, 'coco.json'),
      JSON.stringify({
        images: [
          { id: 1, file_name: 'x.png' },
          { id: 2, file_name: 'z-copies/x-again.png' },
        ],
        annotations: [
          { id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 10, 10] },
          { id: 2, image_id: 2, category_id: 1, bbox: [1, 2, 10, 10] },
          { id: 3, image_id: 2, category_id: 2, bbox: [20, 5, 10, 20] },
        ],
        categories: [
          { id: 1, name: 'cat' },
          { id: 2, name: 'dog' },
        ],
      }),
    );
    const coco = await importDataset(db, {
      path: path.join(dir, 'coco.json'),
      datasetName: 'coco',
      format: 'auto',
      dataDir,
    });
    expect(coco).toMatchObject({ images: 1, annotations: 2, duplicates: [{ path: copy, sameAs: first }] });
    expect(boxesByPath(db, coco.datasetId).get(first)).toEqual([
      { category: 'cat', box: b(1, 2, 11, 12) },
      { category: 'dog', box: b(20, 5, 30, 25) },
    ]);
  });

  it('skips a corrupt or unreadable image, says why, and imports the others', async () => {
    const { dir, dataDir, db } = workspace();
    write(path.join(dir, 'good.png'), pngFile(20, 10));
    write(
      path.join(dir, 'good.jpg'),
      jpegFile(
        16,
        16,
        rgbImage(16, 16, () => [1, 2, 3]),
      ),
    );
    const cut = write(path.join(dir, 'cut.png'), pngFile(20, 20, 9).subarray(0, 70));
    const fake = write(path.join(dir, 'fake.jpg'), 'this is text, not a picture');
    const report = await importDataset(db, {
      path: dir,
      datasetName: 'some broken',
      format: 'auto',
      dataDir,
    });
    expect(report.images).toBe(2);
    expect(report.skipped).toEqual([
      { path: cut, reason: expect.stringMatching(/PNG is truncated/) },
      { path: fake, reason: 'not a PNG, JPEG or WebP image' },
    ]);
    expect(listImages(db, report.datasetId).map((image) => path.basename(image.path))).toEqual([
      'good.jpg',
      'good.png',
    ]);
  });

  it('clamps a box that reaches outside its image and says so', async () => {
    const { dir, dataDir, db } = workspace();
    const image = write(path.join(dir, 'a.png'), pngFile(20, 10));
    write(path.join(dir, 'classes.txt'), 'cat\n');
    write(path.join(dir, 'a.txt'), '0 0.9 0.5 0.4 0.4\n'); // x from 14 to 22 on a 20-pixel-wide image
    const report = await importDataset(db, { path: dir, datasetName: 'clamped', format: 'auto', dataDir });
    expect(report.format).toBe('yolo');
    expect(report.warnings).toEqual([
      expect.stringMatching(/1 box reached outside the image and was clamped .*a\.txt, line 1/),
    ]);
    const [box] = boxesByPath(db, report.datasetId).get(image)!;
    expect(box!.box.x1).toBeCloseTo(14, 9);
    expect(box!.box.x2).toBe(20);
  });

  it('makes a thumbnail of every imported image under <data>/thumbnails, WebP included', async () => {
    const { dir, dataDir, db } = workspace();
    const small = write(path.join(dir, 'small.png'), pngFile(20, 20)); // its own thumbnail: none cached
    const files = [
      write(path.join(dir, 'big.png'), pngFile(400, 200, 1)),
      write(
        path.join(dir, 'photo.jpg'),
        jpegFile(
          24,
          48,
          rgbImage(24, 48, () => [9, 9, 9]),
        ),
      ),
      write(path.join(dir, 'tiny.webp'), webp3x2),
    ];
    const phases = new Set<string>();
    await importDataset(db, {
      path: dir,
      datasetName: 'thumbs',
      format: 'folder',
      dataDir,
      onProgress: (p) => phases.add(p.phase),
    });
    expect([...phases]).toEqual(['hashing', 'writing', 'thumbnails']);
    const sizes = files.map((file) => {
      const thumbnail = path.join(dataDir, 'thumbnails', `${probeImage(readFileSync(file)).sha256}.png`);
      const png = decodePng(readFileSync(thumbnail));
      return [png.width, png.height];
    });
    expect(sizes).toEqual([
      [160, 80],
      [24, 48],
      [3, 2],
    ]);
    const cached = readdirSync(path.join(dataDir, 'thumbnails'));
    expect(cached).toHaveLength(3);
    expect(cached).not.toContain(`${probeImage(readFileSync(small)).sha256}.png`);
  });

  it('clears the half-written thumbnails a killed import left (only those), then makes its own', async () => {
    const { dir, dataDir, db } = workspace();
    const image = write(path.join(dir, 'big.png'), pngFile(400, 200, 1));
    const sha = probeImage(readFileSync(image)).sha256;
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has exited
    const thumbnails = path.join(dataDir, 'thumbnails');
    const left = [`${sha}.png.tmp-${dead}`, `${'0'.repeat(64)}.png.tmp-${dead}`];
    const kept = [`${sha}.png.tmp-${process.ppid}`, `notes.txt.tmp-${dead}`, `${sha}.png.bak-${dead}`];
    for (const name of [...left, ...kept]) write(path.join(thumbnails, name), 'half');
    await importDataset(db, { path: dir, datasetName: 'thumbs', format: 'folder', dataDir });
    expect(readdirSync(thumbnails).sort()).toEqual([`${sha}.png`, ...kept].sort());
  });

  it('replaces the folder of an earlier export as a whole with force, never one holding other files', () => {
    const { dir, db } = workspace();
    const dataset = createDataset(db, { name: 'one' });
    const categoryId = addCategory(db, { datasetId: dataset.id, name: 'cat' }).id;
    const imageId = addImage(db, {
      datasetId: dataset.id,
      path: path.join(dir, 'p.png'),
      sha256: 'p',
      width: 10,
      height: 10,
    });
    addAnnotation(db, { imageId, categoryId, box: b(1, 1, 5, 5) });
    const out = path.join(dir, 'labels');
    write(path.join(out, 'stale.txt'), 'an earlier export');
    const exportTo = (format: ExportFormat, force = true) =>
      exportDataset(db, { datasetId: dataset.id, format, out, force });
    expect(() => exportTo('yolo', false)).toThrow(/labels is not empty: .*pass --force to replace it/);
    expect(exportTo('yolo').files).toEqual(
      ['classes.txt', 'images.txt', 'p.txt'].map((f) => path.join(out, f)),
    );
    expect(readdirSync(out).sort()).toEqual(['classes.txt', 'images.txt', 'p.txt']); // stale.txt went
    // Another format's files are not this export's: VOC writes labels.txt, never classes.txt.
    expect(() => exportTo('voc')).toThrow(/classes\.txt is not a file this export writes/);
    // The images beside the labels would go with the folder: refused, and nothing touched.
    write(path.join(out, 'p.png'), pngFile(10, 10));
    expect(() => exportTo('yolo')).toThrow(
      /p\.png is not a file this export writes, and --force replaces the whole folder/,
    );
    expect(readdirSync(out).sort()).toEqual(['classes.txt', 'images.txt', 'p.png', 'p.txt']);
    expect(readdirSync(dir).filter((name) => /\.(tmp|partial|old)-\d+$/.test(name))).toEqual([]);
  });

  it('reads YOLO class names from data.yaml and labels from an images/ + labels/ layout', async () => {
    const { dir, dataDir, db } = workspace();
    const image = write(path.join(dir, 'images', 'train', 'p.png'), pngFile(100, 50));
    write(path.join(dir, 'labels', 'train', 'p.txt'), '1 0.5 0.5 0.2 0.4\n');
    write(path.join(dir, 'data.yaml'), 'path: .\ntrain: images/train\nnames:\n  0: person\n  1: bicycle\n');
    const report = await importDataset(db, {
      path: dir,
      datasetName: 'ultralytics',
      format: 'auto',
      dataDir,
    });
    expect(report).toMatchObject({ format: 'yolo', images: 1, annotations: 1 });
    expect(listCategories(db, report.datasetId).map((c) => c.name)).toEqual(['person', 'bicycle']);
    const [box] = boxesByPath(db, report.datasetId).get(image)!;
    expect(box!.category).toBe('bicycle');
    expect([box!.box.x1, box!.box.y1, box!.box.x2, box!.box.y2].map((v) => Number(v.toFixed(9)))).toEqual([
      40, 15, 60, 35,
    ]);
  });
});

describe('a malformed annotation file is refused, naming the file and the place, and nothing is written', () => {
  const png = pngFile(100, 80, 4);
  const cocoWith = (annotation: object, categoryIds = [1]) =>
    JSON.stringify({
      images: [{ id: 1, file_name: 'a.png', width: 100, height: 80 }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 5, 5] },
        { id: 2, image_id: 1, ...annotation },
      ],
      categories: categoryIds.map((id) => ({ id, name: `c${id}` })),
    });
  const voc = (object: string) =>
    `<annotation>\n  <filename>a.png</filename>\n  <size><width>100</width><height>80</height></size>\n  <object>\n    <name>cat</name>\n${object}\n  </object>\n</annotation>\n`;
  const rft = (problem: string, solution: string) => ({ image_path: 'a.png', problem, solution });
  const prompt = "Detect all objects belonging to the category 'cat' in the image.";
  const vlmLine = JSON.stringify({
    id: 1,
    image: 'a.png',
    conversations: [
      { from: 'human', value: "<image>detect the following objects: ['cat']." },
      { from: 'gpt', value: '```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "cat"}]\n```' },
    ],
  });

  const cases: [string, Record<string, string>, string, RegExp][] = [
    [
      'COCO annotation without bbox',
      { 'data.json': cocoWith({ category_id: 1 }) },
      'data.json',
      /data\.json: annotations\[1\]\.bbox must be \[x, y, width, height\]/,
    ],
    [
      'COCO bbox of 3 numbers',
      { 'data.json': cocoWith({ category_id: 1, bbox: [1, 2, 3] }) },
      'data.json',
      /data\.json: annotations\[1\]\.bbox must be/,
    ],
    [
      'COCO unknown category_id',
      { 'data.json': cocoWith({ category_id: 7, bbox: [1, 2, 3, 4] }) },
      'data.json',
      /data\.json, annotations\[1\]\.category_id: 7 is not the id of a category/,
    ],
    [
      'COCO box outside the image',
      { 'data.json': cocoWith({ category_id: 1, bbox: [150, 10, 20, 20] }) },
      'data.json',
      /data\.json, annotations\[1\]\.bbox: the box \[150, 10, 170, 30\].*no area inside the 100×80 image/,
    ],
    [
      'COCO that is not JSON',
      { 'data.json': '{\n  "images": [\n    {"id": 1,}\n  ]\n}' },
      'data.json',
      /data\.json, line 3, column 14: not valid JSON/,
    ],
    [
      'NaN in a YOLO line',
      { 'classes.txt': 'cat\n', 'a.txt': '0 0.5 0.5 0.1 0.1\n0 0.5 nan 0.1 0.1\n' },
      '.',
      /a\.txt, line 2: "nan" is not a number/,
    ],
    [
      'a YOLO class index out of range',
      { 'classes.txt': 'cat\ndog\n', 'a.txt': '5 0.5 0.5 0.1 0.1\n' },
      '.',
      /a\.txt, line 1: class 5 is out of range: classes\.txt names 2 classes \(0–1\)/,
    ],
    [
      'a YOLO line of 4 values',
      { 'classes.txt': 'cat\n', 'a.txt': '0 0.5 0.5 0.1\n' },
      '.',
      /a\.txt, line 1: expected 5 values "class cx cy w h", found 4/,
    ],
    [
      'a VOC object without bndbox',
      { 'a.xml': voc('') },
      '.',
      /a\.xml, line 4, object 1 \("cat"\): has no <bndbox>/,
    ],
    [
      'VOC xmax < xmin',
      { 'a.xml': voc('    <bndbox><xmin>20</xmin><ymin>5</ymin><xmax>10</xmax><ymax>30</ymax></bndbox>') },
      '.',
      /a\.xml, line 4, object 1 \("cat"\): xmax 10 is less than xmin 20/,
    ],
    [
      'VOC that is not XML',
      { 'a.xml': voc('    <bndbox><xmin>1</xmin></bndbx>') },
      '.',
      /a\.xml: not well-formed XML \(line 6: <\/bndbx> closes <bndbox>/,
    ],
    [
      'a Visual-RFT solution that does not parse',
      {
        'rft.json': JSON.stringify([
          rft(prompt, '<answer>No Objects</answer>'),
          rft(prompt, '<answer>a cat, top left</answer>'),
        ]),
      },
      'rft.json',
      /rft\.json, \[1\]\.solution: is not a Visual-RFT answer/,
    ],
    [
      'a Visual-RFT problem naming no category',
      { 'rft.json': JSON.stringify([rft('Find the cats.', '<answer>No Objects</answer>')]) },
      'rft.json',
      /rft\.json, \[0\]\.problem: does not name a category/,
    ],
    [
      'a VLM-R1 line that is not JSON',
      { 'data.jsonl': `${vlmLine}\n${vlmLine}\n{"id": 3, "image": "a.png",\n` },
      'data.jsonl',
      // Where the line breaks off: just past its 27 characters.
      /data\.jsonl, line 3, column 28: not valid JSON/,
    ],
    [
      'a VLM-R1 answer without label',
      { 'data.jsonl': `${vlmLine.replace(', \\"label\\": \\"cat\\"', '')}\n` },
      'data.jsonl',
      /data\.jsonl, line 1: answer item 1: "label" must name the category/,
    ],
  ];

  it.each(cases)('%s', async (_, files, input, message) => {
    const { dir, dataDir, db } = workspace();
    write(path.join(dir, 'a.png'), png);
    for (const [name, text] of Object.entries(files)) write(path.join(dir, name), text);
    const attempt = importDataset(db, {
      path: path.join(dir, input),
      datasetName: 'bad',
      format: 'auto',
      dataDir,
    });
    await expect(attempt).rejects.toThrow(message);
    await expect(attempt).rejects.toMatchObject({ code: 'invalid_input' });
    await attempt.catch((error: Error) => {
      expect(error.message).not.toContain('\n');
      expect(error.message).toMatch(/Nothing was imported: fix the file and import again\.$/);
    });
    expect(listDatasets(db)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'thumbnails'))).toBe(false);
  });

  it('says which formats it considered when a file is none of them', async () => {
    const { dir, dataDir, db } = workspace();
    write(path.join(dir, 'x.json'), '{"hello": 1}');
    await expect(
      importDataset(db, { path: path.join(dir, 'x.json'), datasetName: 'x', format: 'auto', dataDir }),
    ).rejects.toThrow(/neither COCO .* nor Visual-RFT/);
    write(path.join(dir, 'notes.md'), 'hi');
    await expect(
      importDataset(db, { path: path.join(dir, 'notes.md'), datasetName: 'x', format: 'auto', dataDir }),
    ).rejects.toThrow(
      /none of the formats vrft reads \(a folder of images, YOLO or Pascal VOC; a COCO or Visual-RFT \.json; a VLM-R1 \.jsonl\)/,
    );
    expect(listDatasets(db)).toEqual([]);
  });
});

describe('cancelling an import', () => {
  it('stops on the signal, writes nothing and says it was cancelled', async () => {
    const { dir, dataDir, db } = workspace();
    for (let i = 0; i < 70; i++)
      write(path.join(dir, 'many', `${String(i).padStart(3, '0')}.png`), pngFile(8, 8, i));
    const controller = new AbortController();
    const seen: ImportProgress[] = [];
    const attempt = importDataset(db, {
      path: path.join(dir, 'many'),
      datasetName: 'cancelled',
      format: 'auto',
      dataDir,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.phase === 'hashing' && p.done > 0) controller.abort(); // after the first batch
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(UserError);
    await expect(attempt).rejects.toMatchObject({
      code: 'cancelled',
      message: expect.stringMatching(/nothing was imported/),
    });
    expect(seen.map((p) => `${p.phase} ${p.done}/${p.total}`)).toEqual(['hashing 0/70', 'hashing 32/70']);
    expect(listDatasets(db)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'thumbnails'))).toBe(false);

    // The same import, not cancelled, goes through.
    const report = await importDataset(db, {
      path: path.join(dir, 'many'),
      datasetName: 'cancelled',
      format: 'auto',
      dataDir,
    });
    expect(report.images).toBe(70);
  });
});

describe('vrft import and vrft export (in process)', () => {
  function capture(stream: 'stdout' | 'stderr'): () => string {
    let text = '';
    vi.spyOn(process[stream], 'write').mockImplementation((chunk) => {
      text += String(chunk);
      return true;
    });
    return () => text;
  }

  it('imports, printing a summary with duplicates and skipped files, and exports', async () => {
    const { dir, dataDir } = workspace();
    const images = path.join(dir, 'images');
    write(path.join(images, 'one.png'), pngFile(10, 10, 1));
    copyFileSync(path.join(images, 'one.png'), path.join(images, 'one-copy.png'));
    write(
      path.join(images, 'two.jpg'),
      jpegFile(
        8,
        8,
        rgbImage(8, 8, () => [0, 0, 0]),
      ),
    );
    write(path.join(images, 'broken.png'), 'not a png');
    const stdout = capture('stdout');
    capture('stderr');
    expect(await importCommand.run({ dataset: 'cli', data: dataDir }, [images])).toBe(0);
    const summary = stdout();
    expect(summary).toContain(`imported ${images} (folder) as dataset "cli"`);
    expect(summary).toContain('2 images, 0 boxes, 0 categories');
    expect(summary).toContain(
      `1 duplicate (same content, imported once):\n  ${path.join(images, 'one.png')} = ${path.join(images, 'one-copy.png')}`,
    );
    expect(summary).toContain(
      `1 skipped:\n  ${path.join(images, 'broken.png')}: not a PNG, JPEG or WebP image`,
    );

    const out = path.join(dir, 'out.jsonl');
    expect(await exportCommand.run({ dataset: 'cli', format: 'vlmr1', out, data: dataDir }, [])).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(stdout()).toContain(`exported 2 images and 0 boxes of "cli" as vlmr1: 1 file at ${out}\n`);
  });

  it('turns a malformed file, a taken name or a bad flag into a one-line usage error', async () => {
    const { dir, dataDir } = workspace();
    write(path.join(dir, 'a.png'), pngFile(10, 10));
    write(path.join(dir, 'classes.txt'), 'cat\n');
    write(path.join(dir, 'a.txt'), '0 0.5 0.5 0.1 0.1\n3 0.5 0.5 0.1 0.1\n');
    const attempt = importCommand.run({ dataset: 'bad', data: dataDir }, [dir]);
    await expect(attempt).rejects.toBeInstanceOf(UsageError);
    await expect(attempt).rejects.toThrow(/a\.txt, line 2: class 3 is out of range/);
    await expect(importCommand.run({ dataset: 'x', format: 'png', data: dataDir }, [dir])).rejects.toThrow(
      /--format must be one of auto, folder, coco, yolo, voc, visualrft, vlmr1/,
    );
    await expect(importCommand.run({ data: dataDir }, [dir])).rejects.toThrow(/--dataset is required/);
    await expect(
      exportCommand.run({ dataset: 'none', format: 'coco', out: dir, data: dataDir }, []),
    ).rejects.toThrow(/no dataset named "none"/);
  });

  it("refuses a format's flag with another format, and warns that upstream scores 'No Objects' 0", async () => {
    const { dir, db, dataDir } = workspace();
    buildDataset(db, dir);
    const out = path.join(dir, 'out');
    const run = (flags: Values) => exportCommand.run({ dataset: 'source', data: dataDir, out, ...flags }, []);
    await expect(run({ format: 'coco', frame: 'resized' })).rejects.toThrow(
      /^--frame is for --format vlmr1 only, not coco$/,
    );
    await expect(run({ format: 'visualrft', model: dir })).rejects.toThrow(
      /--model is for --format vlmr1 only/,
    );
    await expect(run({ format: 'vlmr1', negatives: true })).rejects.toThrow(
      /--negatives is for --format visualrft only, not vlmr1/,
    );
    await expect(run({ format: 'vlmr1', frame: 'model' })).rejects.toThrow(
      /--frame must be one of pixels, resized/,
    );
    await expect(run({ format: 'vlmr1', model: dir })).rejects.toThrow(/give it with --frame resized/);
    await expect(
      run({ format: 'vlmr1', frame: 'resized', model: path.join(dir, 'images') }),
    ).rejects.toBeInstanceOf(UsageError);
    expect(existsSync(out)).toBe(false);

    capture('stdout');
    const stderr = capture('stderr');
    expect(await run({ format: 'visualrft', out: path.join(dir, 'plain.json') })).toBe(0);
    expect(stderr()).toBe('');
    expect(await run({ format: 'visualrft', out: path.join(dir, 'all.json'), negatives: true })).toBe(0);
    expect(stderr()).toMatch(
      /^warning: the 'No Objects' records are scored 0 whatever the answer by upstream Visual-RFT/,
    );
    expect(stderr()).toContain("vrft's own trainer does score them");
    expect(readFileSync(path.join(dir, 'all.json'), 'utf8')).toContain('No Objects');
    expect(await run({ format: 'vlmr1', out: path.join(dir, 'r.jsonl'), frame: 'resized' })).toBe(0);
  });

  it('prints progress every tenth when stderr is not a terminal, and one rewritten line when it is', () => {
    const lines: string[] = [];
    const pipe = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const printer = progressPrinter(pipe);
    for (let done = 0; done <= 200; done++) printer.update({ phase: 'hashing', done, total: 200 });
    printer.update({ phase: 'writing', done: 1, total: 1 });
    expect(lines).toEqual([
      ...Array.from({ length: 11 }, (_, i) => `hashing: ${i * 20}/200 (${i * 10}%)\n`),
      'writing: 1/1 (100%)\n',
    ]);
    const tty: string[] = [];
    const terminal = progressPrinter({
      isTTY: true,
      write: (s: string) => tty.push(s),
    } as unknown as NodeJS.WriteStream);
    terminal.update({ phase: 'hashing', done: 1, total: 4 });
    terminal.end();
    expect(tty).toEqual(['\r\x1b[Khashing: 1/4 (25%)', '\r\x1b[K']);
  });
});

describe('the vrft command (built)', () => {
  const cli = path.resolve('out/main/cli.js');
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/vrft.js', ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('exits 0 after an import and 2 with one line on a malformed file', () => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const { dir, dataDir } = workspace();
    write(path.join(dir, 'ok', 'a.png'), pngFile(12, 12));
    const ok = run('import', path.join(dir, 'ok'), '--dataset', 'ok', '--data', dataDir);
    expect(ok.stderr).toMatch(/^(hashing|writing|thumbnails): /m); // progress, every tenth, not a terminal
    expect(ok).toMatchObject({ code: 0, stdout: expect.stringContaining('1 image, 0 boxes, 0 categories') });

    write(path.join(dir, 'bad', 'a.png'), pngFile(12, 12));
    write(path.join(dir, 'bad', 'data.jsonl'), '{"id": 1, "image": "a.png", "conversations": []}\n');
    const bad = run('import', path.join(dir, 'bad', 'data.jsonl'), '--dataset', 'bad', '--data', dataDir);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/data\.jsonl, line 1: "conversations" needs a \{"from": "human"\}/);

    const exported = run(
      'export',
      '--dataset',
      'ok',
      '--format',
      'yolo',
      '--out',
      path.join(dir, 'yolo'),
      '--data',
      dataDir,
    );
    expect(exported.code).toBe(0);
    expect(readdirSync(path.join(dir, 'yolo')).sort()).toEqual(['a.txt', 'classes.txt', 'images.txt']);
  });

  it('never overwrites a file the user has: an existing --out is refused (exit 2) unless --force', () => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const { dir, dataDir } = workspace();
    write(path.join(dir, 'ok', 'a.png'), pngFile(12, 12));
    expect(run('import', path.join(dir, 'ok'), '--dataset', 'ok', '--data', dataDir).code).toBe(0);
    const notes = path.join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes');
    const exportTo = (out: string, ...more: string[]) =>
      run('export', '--dataset', 'ok', '--format', 'coco', '--out', out, '--data', dataDir, ...more);
    const refused = exportTo(notes);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `vrft: ${notes} already exists: choose another name, or pass --force to replace it.\n`,
    );
    expect(readFileSync(notes, 'utf8')).toBe('my notes');
    // A folder given: its default file is checked the same way.
    mkdirSync(path.join(dir, 'exports'));
    expect(exportTo(path.join(dir, 'exports')).code).toBe(0);
    expect(exportTo(path.join(dir, 'exports')).stderr).toContain('annotations.json already exists');
    // A non-empty folder for a many-file format, and --force.
    expect(
      run(
        'export',
        '--dataset',
        'ok',
        '--format',
        'yolo',
        '--out',
        path.join(dir, 'exports'),
        '--data',
        dataDir,
      ).stderr,
    ).toContain('is not empty: export into a new or empty folder, or pass --force');
    expect(exportTo(notes, '--force').code).toBe(0);
    expect(JSON.parse(readFileSync(notes, 'utf8'))).toHaveProperty('images');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('cancels cleanly on Ctrl+C: exit 130, nothing imported', async () => {
    if (!existsSync(cli)) throw new Error('The CLI is not built: run `npm run build` first.');
    const { dir, dataDir } = workspace();
    // Enough images that hashing is still under way when the interrupt arrives.
    for (let i = 0; i < 5000; i++) write(path.join(dir, 'many', `${i}.png`), pngFile(8, 8, i));
    const child = spawn(process.execPath, [
      'bin/vrft.js',
      'import',
      path.join(dir, 'many'),
      '--dataset',
      'stop',
      '--data',
      dataDir,
    ]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!child.killed && stderr.includes('hashing: 0/5000')) child.kill('SIGINT'); // once
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(stderr).toContain('vrft: The import was cancelled: nothing was imported.');
    const db = openStore(workspaceDbPath(dataDir));
    try {
      expect(listDatasets(db)).toEqual([]);
    } finally {
      db.close();
    }
  }, 60_000);
});
