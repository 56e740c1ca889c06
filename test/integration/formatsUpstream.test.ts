/**
 * vrft's Visual-RFT and VLM-R1 exports, read the way the upstream training scripts read them.
 * tools/reference/formats-upstream/load_exports.py loaded the exports committed under
 * test/fixtures/formats-upstream/exports and wrote what upstream would train on to summary.json;
 * this test requires (1) that vrft still writes exactly those exports and (2) that what upstream
 * reads from them is the dataset vrft holds: every line, id, accu_reward_method, box and label.
 * VRFT_UPDATE_FIXTURES=1 rewrites the exports (then run the script again).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportDataset, importDataset } from '../../src/main/data/formats';
import { listDatasetAnnotations, type Annotation } from '../../src/main/store/annotations';
import { listCategories } from '../../src/main/store/categories';
import { openStore, workspaceDbPath, type Db } from '../../src/main/store/db';
import { listImages } from '../../src/main/store/images';
import { listDatasetLabels } from '../../src/main/store/labels';
import { listSourceLines } from '../../src/main/store/sourceLines';
import { writeJpeg } from '../support/imageFiles';

const fixtures = path.join(__dirname, '..', 'fixtures');
const upstream = path.join(fixtures, 'formats-upstream');
const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-upstream-'));
const images = path.join(root, 'images');
const dataDir = path.join(root, 'workspace');
let db: Db | undefined;
afterAll(() => {
  db?.close();
  rmSync(root, { recursive: true, force: true });
});

const jpeg = (name: string, width: number, height: number, shade: number) =>
  writeJpeg(path.join(images, name), width, height, shade);

/** Three datasets: REC lines, COCO detection, Visual-RFT classification; their four exports. */
async function build(): Promise<{ db: Db; ids: Record<string, number>; exports: Record<string, string> }> {
  mkdirSync(images, { recursive: true });
  const store = openStore(workspaceDbPath(dataDir));
  db = store;
  copyFileSync(path.join(fixtures, 'task-formats', 'vlmr1-rec.jsonl'), path.join(images, 'rec.jsonl'));
  jpeg('COCO_train2014_000000000009.jpg', 320, 400, 10);
  jpeg('COCO_train2014_000000000025.jpg', 240, 320, 200);
  copyFileSync(
    path.join(fixtures, 'task-formats', 'visualrft-classification.json'),
    path.join(images, 'cls.json'),
  );
  for (const n of [1, 2, 3]) jpeg(`flowers/image_0000${n}.jpg`, 32, 24, n * 60);
  jpeg('det1.jpg', 100, 80, 30);
  jpeg('det2.jpg', 64, 64, 90);
  writeFileSync(
    path.join(images, 'coco.json'),
    JSON.stringify({
      images: [
        { id: 1, file_name: 'det1.jpg', width: 100, height: 80 },
        { id: 2, file_name: 'det2.jpg', width: 64, height: 64 },
      ],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [10, 12.5, 30, 40], iscrowd: 0 },
        { id: 2, image_id: 1, category_id: 2, bbox: [50, 5, 45, 70], iscrowd: 0 },
        { id: 3, image_id: 2, category_id: 2, bbox: [3, 4, 20, 21], iscrowd: 0 },
      ],
      categories: [
        { id: 1, name: 'cat' },
        { id: 2, name: 'dog' },
      ],
    }),
  );
  const ids: Record<string, number> = {};
  for (const [name, file] of [
    ['rec', 'rec.jsonl'],
    ['det', 'coco.json'],
    ['cls', 'cls.json'],
  ] as const) {
    ids[name] = (
      await importDataset(store, {
        path: path.join(images, file),
        datasetName: name,
        format: 'auto',
        dataDir,
      })
    ).datasetId;
  }
  const out = path.join(root, 'exports');
  mkdirSync(out, { recursive: true });
  const runs = [
    ['vlmr1-rec.jsonl', ids.rec!, 'vlmr1', {}],
    ['vlmr1-detection.jsonl', ids.det!, 'vlmr1', {}],
    ['visualrft-detection.json', ids.det!, 'visualrft', {}],
    ['visualrft-classification.json', ids.cls!, 'visualrft', { task: 'classification' }],
  ] as const;
  const exports: Record<string, string> = {};
  for (const [name, datasetId, format, options] of runs) {
    const file = path.join(out, name);
    exportDataset(store, { datasetId, format, out: file, ...options });
    // The images' folder as the script's image folder: the same text on every machine.
    exports[name] = readFileSync(file, 'utf8').split(images).join('/data');
  }
  return { db: store, ids, exports };
}

interface Row {
  id?: string | number | null;
  images?: string[];
  image?: string;
  problem: string;
  accu_reward_method?: string;
  boxes?: { bbox_2d: number[]; label: string }[];
  rec_box?: number[];
  positions?: number[][] | null;
  answer?: string;
}
type Summary = Record<string, { loader: string; columns: string[]; rows: Row[] }>;

const xyxy = (a: Annotation) => [a.x1, a.y1, a.x2, a.y2];

describe('exports as the upstream training scripts read them', async () => {
  const { db, ids, exports } = await build();
  const summary = JSON.parse(readFileSync(path.join(upstream, 'summary.json'), 'utf8')) as Summary;
  const name = (file: string) => path.relative(images, file);
  const annotations = (datasetId: number) => listDatasetAnnotations(db, datasetId);
  const categories = (datasetId: number) => new Map(listCategories(db, datasetId).map((c) => [c.id, c.name]));

  it('vrft writes the exports the script read', () => {
    for (const [file, text] of Object.entries(exports)) {
      const committed = path.join(upstream, 'exports', file);
      if (process.env.VRFT_UPDATE_FIXTURES === '1') writeFileSync(committed, text);
      expect(text, file).toBe(readFileSync(committed, 'utf8'));
    }
    expect(Object.keys(summary).sort()).toEqual(Object.keys(exports).sort());
  });

  it('VLM-R1 REC: every imported line, with its id and accu_reward_method, and the box it is about', () => {
    const rows = summary['vlmr1-rec.jsonl']!.rows;
    const lines = listSourceLines(db, ids.rec!, 'vlm-r1');
    const byId = new Map(annotations(ids.rec!).map((a) => [a.id, a]));
    const paths = new Map(listImages(db, ids.rec!).map((image) => [image.id, name(image.path)]));
    expect(rows).toHaveLength(lines.length);
    lines.forEach((line, i) => {
      const row = rows[i]!;
      expect(row.id).toBe(line.lineId);
      expect(row.accu_reward_method).toBe(line.accuRewardMethod ?? 'default');
      expect(row.images).toEqual([paths.get(line.imageId)]);
      if (line.annotationId !== null) {
        const box = byId.get(line.annotationId)!;
        expect(row.rec_box).toEqual(xyxy(box));
        expect(row.problem).toContain(`describes: ${box.expression}.`);
      } else {
        const names = categories(ids.rec!);
        const plain = annotations(ids.rec!).filter((a) => a.imageId === line.imageId && a.expression === '');
        expect(row.boxes).toEqual(plain.map((a) => ({ bbox_2d: xyxy(a), label: names.get(a.categoryId) })));
      }
    });
  });

  it('VLM-R1 detection: a line per image, its boxes in original pixels', () => {
    const rows = summary['vlmr1-detection.jsonl']!.rows;
    const names = categories(ids.det!);
    const imgs = listImages(db, ids.det!);
    expect(rows.map((r) => [r.id, r.images, r.accu_reward_method])).toEqual(
      imgs.map((image) => [image.id, [name(image.path)], 'default']),
    );
    imgs.forEach((image, i) => {
      const boxes = annotations(ids.det!).filter((a) => a.imageId === image.id);
      expect(rows[i]!.boxes).toEqual(
        boxes.map((a) => ({ bbox_2d: xyxy(a), label: names.get(a.categoryId) })),
      );
    });
  });

  it('Visual-RFT detection: a record per image and category, its Positions on 0-1000 of the image', () => {
    const rows = summary['visualrft-detection.json']!.rows;
    const names = categories(ids.det!);
    const expected: { image: string; category: string; boxes: number[][] }[] = [];
    for (const image of listImages(db, ids.det!)) {
      for (const category of names.values()) {
        const boxes = annotations(ids.det!)
          .filter((a) => a.imageId === image.id && names.get(a.categoryId) === category)
          .map((a) => [
            (a.x1 * 1000) / image.width,
            (a.y1 * 1000) / image.height,
            (a.x2 * 1000) / image.width,
            (a.y2 * 1000) / image.height,
          ]);
        if (boxes.length > 0) expected.push({ image: name(image.path), category, boxes });
      }
    }
    expect(rows).toHaveLength(expected.length);
    rows.forEach((row, i) => {
      expect(row.image).toBe(expected[i]!.image);
      expect(row.problem).toContain(`the category '${expected[i]!.category}'`);
      expect(row.positions).toHaveLength(expected[i]!.boxes.length);
      row.positions!.forEach((p, k) =>
        p.forEach((v, j) => expect(Math.abs(v - expected[i]!.boxes[k]![j]!)).toBeLessThanOrEqual(0.5)),
      );
    });
  });

  it('Visual-RFT classification: a record per labelled image, its label the answer', () => {
    const rows = summary['visualrft-classification.json']!.rows;
    const names = categories(ids.cls!);
    const paths = new Map(listImages(db, ids.cls!).map((image) => [image.id, name(image.path)]));
    expect(rows.map((r) => [r.image, r.answer])).toEqual(
      listDatasetLabels(db, ids.cls!).map((l) => [paths.get(l.imageId), names.get(l.categoryId)]),
    );
  });
});
