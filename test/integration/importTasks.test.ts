/**
 * The data of every task of the papers, in the shapes their code reads: VLM-R1 REC lines,
 * Visual-RFT classification records, COCO crowd boxes, LISA ReasonSeg folders; each imported,
 * reported and exported back (fixtures: test/fixtures/task-formats).
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exportCommand, importCommand } from '../../src/main/commands/importExport';
import { exportDataset, importDataset } from '../../src/main/data/formats';
import { listDatasetAnnotations } from '../../src/main/store/annotations';
import { addCategory, listCategories } from '../../src/main/store/categories';
import { createDataset } from '../../src/main/store/datasets';
import { addImage, listImages } from '../../src/main/store/images';
import { listDatasetLabels, setImageLabel } from '../../src/main/store/labels';
import { listSourceLines } from '../../src/main/store/sourceLines';
import { probeImage } from '../../src/main/data/imageFiles';
import { writeJpeg } from '../support/imageFiles';
import { caseWorkspaces } from '../support/workspace';

const fixtures = path.join(__dirname, '..', 'fixtures', 'task-formats');
const workspace = caseWorkspaces('tasks');
afterEach(() => vi.restoreAllMocks());

const jpeg = writeJpeg;

/** The REC fixtures beside the two COCO images they name. */
function recFolder(dir: string): void {
  copyFileSync(path.join(fixtures, 'vlmr1-rec.jsonl'), path.join(dir, 'rec.jsonl'));
  copyFileSync(path.join(fixtures, 'vlmr1-rec-list.json'), path.join(dir, 'rec-list.json'));
  jpeg(path.join(dir, 'COCO_train2014_000000000009.jpg'), 320, 400, 10);
  jpeg(path.join(dir, 'COCO_train2014_000000000025.jpg'), 240, 320, 200);
}

const boxOf = (a: { x1: number; y1: number; x2: number; y2: number }) => [a.x1, a.y1, a.x2, a.y2];

describe('VLM-R1 REC lines', () => {
  it('become one box each with its expression, and keep each line in source_line', async () => {
    const { dir, dataDir, db } = workspace();
    recFolder(dir);
    const report = await importDataset(db, {
      path: path.join(dir, 'rec.jsonl'),
      datasetName: 'rec',
      format: 'auto',
      dataDir,
    });
    expect(report).toMatchObject({
      format: 'vlmr1',
      images: 2,
      // three REC lines, one detection box, two from the split multi-image line
      annotations: 6,
      expressions: 5,
      labels: 0,
      crowd: 0,
      skipped: [],
    });
    expect(report.skippedLines).toEqual([
      {
        where: `${path.join(dir, 'rec.jsonl')}, line 5`,
        reason: 'names 2 images and its answer is not one per image; vrft trains on one image per question',
      },
    ]);
    expect(report.warnings).toContain(
      `1 line names several images; vrft trains on one image per question: skipped (the first: ${path.join(dir, 'rec.jsonl')}, line 5)`,
    );
    expect(report.warnings).toContain(
      "3 REC lines named no category: their boxes are in the category 'object'",
    );
    expect(listCategories(db, report.datasetId).map((c) => c.name)).toEqual(['object', 'giraffe', 'zebra']);
    const boxes = listDatasetAnnotations(db, report.datasetId).map((a) => [a.expression, boxOf(a)]);
    expect(boxes).toEqual(
      expect.arrayContaining([
        ['the man in red', [6, 187, 150, 337]],
        ['left zebra, the one eating', [160, 40.5, 300, 210]],
        ['giraffe on the right', [10, 20, 30, 40]],
        ['', [50, 60, 120, 200]],
        ['the tallest animal', [1, 2, 100, 300]],
        ['the tallest animal', [5, 6, 200, 250]],
      ]),
    );
    const lines = listSourceLines(db, report.datasetId, 'vlm-r1');
    expect(lines.map((l) => [l.lineId, l.accuRewardMethod, l.categories, l.annotationId !== null])).toEqual([
      ['101', null, null, true],
      ['refcoco-102', 'default', null, true],
      ['103', null, null, true],
      ['104', 'map', ['giraffe', 'zebra'], false],
      ['106', null, null, true],
      ['106', null, null, true],
    ]);
  });

  it('reads the rec_jsons_processed JSON list too', async () => {
    const { dir, dataDir, db } = workspace();
    recFolder(dir);
    const report = await importDataset(db, {
      path: path.join(dir, 'rec-list.json'),
      datasetName: 'rec list',
      format: 'auto',
      dataDir,
    });
    expect(report).toMatchObject({ format: 'vlmr1', images: 2, annotations: 2, expressions: 2 });
    expect(listDatasetAnnotations(db, report.datasetId).map((a) => a.expression)).toEqual([
      'man in red shirt',
      'giraffe',
    ]);
  });

  it('exports each line back with its id, categories and accu_reward_method, REC answers in the chosen frame', async () => {
    const { dir, dataDir, db } = workspace();
    recFolder(dir);
    const { datasetId } = await importDataset(db, {
      path: path.join(dir, 'rec.jsonl'),
      datasetName: 'rec',
      format: 'vlmr1',
      dataDir,
    });
    const out = path.join(dir, 'out.jsonl');
    exportDataset(db, { datasetId, format: 'vlmr1', out });
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown> & { conversations: { value: string }[] });
    expect(lines.map((l) => [l.id, l.accu_reward_method])).toEqual([
      // one type of id per file (Arrow): the numbers become text beside 'refcoco-102'
      ['101', undefined],
      ['refcoco-102', 'default'],
      ['103', undefined],
      ['104', 'map'],
      ['106', undefined],
      ['106', undefined],
    ]);
    expect(lines[0]!.conversations.map((t) => t.value)).toEqual([
      '<image>Please provide the bounding box coordinate of the region this sentence describes: the man in red.',
      '[6, 187, 150, 337]',
    ]);
    expect(lines[3]!.conversations[0]!.value).toContain("detect the following objects: ['giraffe', 'zebra']");
    expect(lines[3]!.conversations[1]!.value).toBe(
      '```json\n[{"bbox_2d":[50,60,120,200],"label":"giraffe"}]\n```',
    );
    // Imported back: the same boxes, expressions and lines.
    const again = await importDataset(db, { path: out, datasetName: 'again', format: 'auto', dataDir });
    expect(again).toMatchObject({ annotations: 6, expressions: 5, skippedLines: [] });
    const before = listDatasetAnnotations(db, datasetId).map((a) => [a.expression, boxOf(a)]);
    expect(listDatasetAnnotations(db, again.datasetId).map((a) => [a.expression, boxOf(a)])).toEqual(
      expect.arrayContaining(before),
    );

    // --frame resized: the REC answer in pixels of Qwen's resized input (whole pixels).
    const resized = path.join(dir, 'resized.jsonl');
    exportDataset(db, { datasetId, format: 'vlmr1', out: resized, frame: 'resized' });
    const first = JSON.parse(readFileSync(resized, 'utf8').split('\n')[0]!) as {
      conversations: { value: string }[];
    };
    expect(first.conversations[1]!.value).toMatch(/^\[\d+, \d+, \d+, \d+\]$/);
  });

  it('writes a REC line for a box given an expression in the workspace, and a detection line for the rest', () => {
    const { dir, db } = workspace();
    const file = jpeg(path.join(dir, 'a.jpg'), 64, 48);
    const dataset = createDataset(db, { name: 'made here' });
    const cat = addCategory(db, { datasetId: dataset.id, name: 'cup' }).id;
    const bytes = readFileSync(file);
    const imageId = addImage(db, {
      datasetId: dataset.id,
      path: file,
      sha256: probeImage(bytes).sha256,
      width: 64,
      height: 48,
    });
    db.prepare(
      `INSERT INTO annotation (image_id, category_id, x1, y1, x2, y2, expression, crowd, source, created_at, updated_at)
       VALUES (?, ?, 1, 2, 30, 40, 'the red cup', 0, 'human', 0, 0), (?, ?, 5, 5, 9, 9, '', 0, 'human', 0, 0)`,
    ).run(imageId, cat, imageId, cat);
    const out = path.join(dir, 'out.jsonl');
    exportDataset(db, { datasetId: dataset.id, format: 'vlmr1', out });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('\\"bbox_2d\\":[5,5,9,9]');
    expect(lines[1]).toContain('this sentence describes: the red cup.');
    expect(lines[1]).toContain('"value":"[1, 2, 30, 40]"');
  });
});

describe('Visual-RFT classification', () => {
  it('imports each record as an image label, and exports labels (or the one category of its boxes)', async () => {
    const { dir, dataDir, db } = workspace();
    copyFileSync(path.join(fixtures, 'visualrft-classification.json'), path.join(dir, 'cls.json'));
    for (const n of [1, 2, 3]) jpeg(path.join(dir, 'flowers', `image_0000${n}.jpg`), 32, 24, n * 60);
    const report = await importDataset(db, {
      path: path.join(dir, 'cls.json'),
      datasetName: 'flowers',
      format: 'auto',
      dataDir,
    });
    expect(report).toMatchObject({
      format: 'visualrft',
      images: 3,
      annotations: 0,
      labels: 3,
      categories: 2,
    });
    const names = new Map(listCategories(db, report.datasetId).map((c) => [c.id, c.name]));
    expect(listDatasetLabels(db, report.datasetId).map((l) => names.get(l.categoryId))).toEqual([
      'pink primrose',
      'globe thistle',
      'pink primrose',
    ]);
    expect(listImages(db, report.datasetId).every((image) => !image.negative)).toBe(true);

    const out = path.join(dir, 'out.json');
    // An unlabelled image more in the dataset: the export says how many images it holds, not 4.
    const extra = addImage(db, {
      datasetId: report.datasetId,
      path: jpeg(path.join(dir, 'x.jpg'), 8, 8, 3),
      sha256: 'x',
      width: 8,
      height: 8,
    });
    expect(extra).toBeGreaterThan(0);
    const written = exportDataset(db, {
      datasetId: report.datasetId,
      format: 'visualrft',
      out,
      task: 'classification',
    });
    expect(written.images).toBe(3);
    const records = JSON.parse(readFileSync(out, 'utf8')) as { image_path: string; solution: string }[];
    expect(records.map((r) => [path.basename(r.image_path), r.solution])).toEqual([
      ['image_00001.jpg', '<answer>pink primrose</answer>'],
      ['image_00002.jpg', '<answer>globe thistle</answer>'],
      ['image_00003.jpg', '<answer>pink primrose</answer>'],
    ]);
    const again = await importDataset(db, { path: out, datasetName: 'again', format: 'auto', dataDir });
    expect(again).toMatchObject({ labels: 3, categories: 2 });

    // An image without a label but whose boxes are all one category is labelled by it.
    const [first] = listImages(db, report.datasetId);
    setImageLabel(db, first!.id, null);
    const cat = listCategories(db, report.datasetId).find((c) => c.name === 'globe thistle')!;
    db.prepare(
      `INSERT INTO annotation (image_id, category_id, x1, y1, x2, y2, expression, crowd, source, created_at, updated_at)
       VALUES (?, ?, 1, 1, 5, 5, '', 0, 'human', 0, 0)`,
    ).run(first!.id, cat.id);
    exportDataset(db, {
      datasetId: report.datasetId,
      format: 'visualrft',
      out,
      task: 'classification',
      force: true,
    });
    expect((JSON.parse(readFileSync(out, 'utf8')) as { solution: string }[])[0]!.solution).toBe(
      '<answer>globe thistle</answer>',
    );
  });

  it("reads a released Hugging Face classification set's rows as image labels", async () => {
    const { dataDir, db } = workspace();
    const file = path.join(__dirname, '..', 'fixtures', 'hf-classification', 'train-00000-of-00001.parquet');
    const report = await importDataset(db, {
      path: file,
      datasetName: 'hf flowers',
      format: 'auto',
      dataDir,
    });
    expect(report).toMatchObject({ format: 'hf', images: 3, annotations: 0, labels: 3, categories: 2 });
    const names = new Map(listCategories(db, report.datasetId).map((c) => [c.id, c.name]));
    expect(listDatasetLabels(db, report.datasetId).map((l) => names.get(l.categoryId))).toEqual([
      'pink primrose',
      'globe thistle',
      'pink primrose',
    ]);
  });

  it('refuses two labels for one image, naming both records', async () => {
    const { dir, dataDir, db } = workspace();
    jpeg(path.join(dir, 'x.jpg'), 16, 16);
    const file = path.join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify([
        { image_path: 'x.jpg', problem: 'What is it?', solution: '<answer>rose</answer>' },
        { image_path: 'x.jpg', problem: 'What is it?', solution: '<answer>tulip</answer>' },
      ]),
    );
    await expect(
      importDataset(db, { path: file, datasetName: 'bad', format: 'auto', dataDir }),
    ).rejects.toThrow(
      /bad\.json, \[1\]\.solution: labels .*x\.jpg "tulip" but \[0\] labels it "rose": one category per image/,
    );
  });
});

describe('COCO crowd boxes', () => {
  it('are kept as crowd boxes, counted, and written back as iscrowd 1 with their area', async () => {
    const { dir, dataDir, db } = workspace();
    jpeg(path.join(dir, 'p.jpg'), 100, 80);
    const file = path.join(dir, 'coco.json');
    writeFileSync(
      file,
      JSON.stringify({
        images: [{ id: 7, file_name: 'p.jpg', width: 100, height: 80 }],
        annotations: [
          { id: 1, image_id: 7, category_id: 1, bbox: [10, 10, 20, 30], iscrowd: 0, area: 600 },
          { id: 2, image_id: 7, category_id: 1, bbox: [40, 5, 50, 60], iscrowd: 1, area: 2500 },
        ],
        categories: [{ id: 1, name: 'person' }],
      }),
    );
    const report = await importDataset(db, { path: file, datasetName: 'crowd', format: 'auto', dataDir });
    expect(report).toMatchObject({ annotations: 2, crowd: 1, warnings: [] });
    expect(listDatasetAnnotations(db, report.datasetId).map((a) => a.crowd)).toEqual([false, true]);
    const out = path.join(dir, 'out.json');
    exportDataset(db, { datasetId: report.datasetId, format: 'coco', out });
    const written = JSON.parse(readFileSync(out, 'utf8')) as {
      annotations: { iscrowd: number; area: number }[];
    };
    expect(written.annotations.map((a) => [a.iscrowd, a.area])).toEqual([
      [0, 600],
      [1, 3000],
    ]);
    // Formats that cannot mark a crowd region leave it out (it would be one object to find), and say so.
    const jsonl = path.join(dir, 'out.jsonl');
    expect(exportDataset(db, { datasetId: report.datasetId, format: 'vlmr1', out: jsonl })).toMatchObject({
      annotations: 1,
      crowdLeftOut: 1,
    });
    expect(readFileSync(jsonl, 'utf8')).not.toContain('[40,5,90,65]');
  });
});

describe('LISA ReasonSeg', () => {
  it('reads a box per question (the target shapes together, ignore left out) and writes the shape back', async () => {
    const { dir, dataDir, db } = workspace();
    const folder = path.join(dir, 'lisa');
    cpSync(path.join(fixtures, 'lisa'), folder, { recursive: true });
    jpeg(path.join(folder, 'reason_000001.jpg'), 160, 160);
    jpeg(path.join(folder, 'reason_000002.jpg'), 80, 80);
    jpeg(path.join(folder, 'reason_000003.jpg'), 40, 40);
    const report = await importDataset(db, { path: folder, datasetName: 'lisa', format: 'auto', dataDir });
    expect(report).toMatchObject({
      format: 'lisa',
      images: 3,
      annotations: 3,
      expressions: 3,
      categories: 1,
    });
    expect(report.warnings).toEqual([
      `1 image has no LISA annotation of the same name (the first: ${path.join(folder, 'reason_000003.jpg')}): ` +
        'imported without boxes, to be labelled',
    ]);
    expect(listDatasetAnnotations(db, report.datasetId).map((a) => [a.expression, boxOf(a)])).toEqual([
      ['What part of the room would you sit on to rest after a long day?', [20, 30, 130, 140]],
      ['where can someone sit down?', [20, 30, 130, 140]],
      ['What in this picture could keep food cold?', [5, 6, 60, 70]],
    ]);
    const out = path.join(dir, 'out');
    exportDataset(db, { datasetId: report.datasetId, format: 'lisa', out });
    expect(readdirSync(out).sort()).toEqual(['reason_000001.json', 'reason_000002.json']);
    const back = await importDataset(db, { path: out, datasetName: 'lisa again', format: 'auto', dataDir });
    expect(back).toMatchObject({ images: 2, annotations: 3, expressions: 3 });
    const written = JSON.parse(readFileSync(path.join(out, 'reason_000001.json'), 'utf8')) as {
      text: string[];
      shapes: { points: number[][]; shape_type: string }[];
    };
    expect(written.text).toHaveLength(2);
    expect(written.shapes).toEqual([
      expect.objectContaining({
        label: 'target',
        points: [
          [20, 30],
          [130, 140],
        ],
        shape_type: 'rectangle',
      }),
    ]);
  });
});

describe('vrft import --json', () => {
  it('prints the report with its counts and skipped lines', async () => {
    const { dir, dataDir } = workspace();
    recFolder(dir);
    let text = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      text += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(
      await importCommand.run({ dataset: 'rec', data: dataDir, json: true }, [path.join(dir, 'rec.jsonl')]),
    ).toBe(0);
    const report = JSON.parse(text) as Record<string, unknown>;
    expect(report).toMatchObject({ annotations: 6, expressions: 5, labels: 0, crowd: 0 });
    expect(report.skippedLines).toHaveLength(1);
    text = '';
    expect(await importCommand.run({ dataset: 'rec 2', data: dataDir }, [path.join(dir, 'rec.jsonl')])).toBe(
      0,
    );
    expect(text).toContain('2 images, 6 boxes, 3 categories, 5 expressions');
    expect(text).toContain('1 line of the file skipped:');
    await expect(
      exportCommand.run(
        { dataset: 'rec', format: 'vlmr1', task: 'classification', out: 'x', data: dataDir },
        [],
      ),
    ).rejects.toThrow('--task is for --format visualrft only, not vlmr1');
  });
});

describe('relative image paths of the new records', () => {
  it.each([
    [
      'a REC line',
      'rec.jsonl',
      '{"id": 1, "image": "pics/one.jpg", "problem": "describes: a cup.", "solution": [1, 1, 5, 5]}\n',
      'line 1',
    ],
    [
      'a classification record',
      'cls.json',
      '[{"image": "pics/one.jpg", "problem": "What is it?", "solution": "<answer>cup</answer>"}]',
      '[0].image',
    ],
  ])('%s: beside the file first, else the working directory, saying which', async (_, name, text, where) => {
    const { dir, dataDir, db } = workspace();
    const data = path.join(dir, 'data', name);
    mkdirSync(path.dirname(data), { recursive: true });
    writeFileSync(data, text);
    const cwd = path.join(dir, 'cwd');
    jpeg(path.join(cwd, 'pics', 'one.jpg'), 16, 16);
    vi.spyOn(process, 'cwd').mockReturnValue(cwd);
    const report = await importDataset(db, { path: data, datasetName: 'cwd', format: 'auto', dataDir });
    expect(report.images).toBe(1);
    expect(report.warnings).toContain(
      `an image path was not found beside the data file in ${path.dirname(data)}; read relative to the ` +
        `working directory ${cwd} instead: pics/one.jpg (${where})`,
    );
    // Beside the file wins when both exist, and then nothing is said.
    jpeg(path.join(dir, 'data', 'pics', 'one.jpg'), 16, 16, 7);
    const again = await importDataset(db, { path: data, datasetName: 'beside', format: 'auto', dataDir });
    expect(again.warnings).toEqual(
      name === 'rec.jsonl' ? [expect.stringContaining('REC line named no category')] : [],
    );
    expect(listImages(db, again.datasetId)[0]!.path).toBe(path.join(dir, 'data', 'pics', 'one.jpg'));
  });
});

describe('--images: the folder the image names start from (VLM-R1 image_folders, COCO train2014/)', () => {
  it('finds a released file’s images in the folder named, before the file’s own', async () => {
    const { dir, dataDir, db } = workspace();
    // rec_jsons_processed/refcoco_train.json names COCO_train2014_….jpg, which live in train2014/.
    const data = path.join(dir, 'rec_jsons_processed', 'refcoco_train.json');
    mkdirSync(path.dirname(data), { recursive: true });
    writeFileSync(
      data,
      JSON.stringify([
        {
          image: 'COCO_train2014_000000000009.jpg',
          problem:
            'Please provide the bounding box coordinate of the region this sentence describes: the cup.',
          solution: [1, 1, 9, 9],
        },
      ]),
    );
    const root = path.join(dir, 'coco', 'train2014');
    jpeg(path.join(root, 'COCO_train2014_000000000009.jpg'), 16, 16);
    await expect(
      importDataset(db, { path: data, datasetName: 'none', format: 'vlmr1', dataDir }),
    ).rejects.toThrow(/could be imported .*not found/);
    const report = await importDataset(db, {
      path: data,
      datasetName: 'refcoco',
      format: 'vlmr1',
      dataDir,
      imageRoot: root,
    });
    expect(report).toMatchObject({ images: 1, expressions: 1 });
    expect(listImages(db, report.datasetId)[0]!.path).toBe(
      path.join(root, 'COCO_train2014_000000000009.jpg'),
    );
    await expect(
      importCommand.run({ dataset: 'x', images: path.join(dir, 'nowhere'), data: dataDir }, [data]),
    ).rejects.toThrow(/--images .*nowhere is not a folder/);
    await expect(
      importCommand.run({ dataset: 'x', images: root, format: 'yolo', data: dataDir }, [dir]),
    ).rejects.toThrow('--images is for files that name their images (coco, visualrft, vlmr1, hf), not yolo');
  });
});

describe('malformed task data is refused, naming the file and the place', () => {
  it.each([
    [
      'rec.jsonl',
      '{"image": "a.jpg", "problem": "describes: a cup.", "solution": [1, 2, 3]}\n',
      /rec\.jsonl, line 1: answer item 1: bbox_2d must be \[x1, y1, x2, y2\], four numbers \(a REC answer is one \[x1, y1, x2, y2\]/,
    ],
    [
      'rec.jsonl',
      '{"image": "a.jpg", "problem": "describes: a cup."}\n',
      /rec\.jsonl, line 1: needs "conversations"/,
    ],
    [
      'lisa/a.json',
      '{"text": ["where?"], "shapes": [{"label": "target", "points": [[1, 2, 3]]}]}',
      /a\.json, shapes\[0\]\.points: must be a list of \[x, y\] points/,
    ],
  ])('%s (case %#)', async (name, text, message) => {
    const { dir, dataDir, db } = workspace();
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    jpeg(path.join(path.dirname(file), 'a.jpg'), 16, 16);
    const input = name.startsWith('lisa/') ? path.dirname(file) : file;
    await expect(
      importDataset(db, { path: input, datasetName: 'bad', format: 'auto', dataDir }),
    ).rejects.toThrow(message);
  });
});
