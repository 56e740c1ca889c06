/**
 * Import faults: every format's malformed files, wrong types, NaN and huge numbers, duplicate ids,
 * boxes outside the image, and images that are truncated, empty, not images, bombs, pipes,
 * symlink loops, `..` paths and names that are not UTF-8. Each import must be refused whole,
 * naming the file (and line or record) and the problem; the workspace keeps what it had.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import type { FaultCase, FaultContext } from '../../support/faults';
import { pngChunk, pngFile } from '../../support/imageFiles';

const importInto = (ctx: FaultContext, source: string, ...more: string[]) => [
  'import',
  source,
  '--dataset',
  'incoming',
  '--data',
  ctx.data,
  ...more,
];

/** A folder `name` under the case's folder with these files (bytes or text). */
function folder(ctx: FaultContext, name: string, files: Record<string, Buffer | string>): string {
  const dir = path.join(ctx.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

const coco = (overrides: Record<string, unknown>) =>
  JSON.stringify({
    images: [{ id: 1, file_name: 'a.png', width: 16, height: 16 }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 5, 5] }],
    categories: [{ id: 1, name: 'dot' }],
    ...overrides,
  });

/** A COCO annotation file beside one 16×16 image. */
function cocoCase(name: string, text: string, message: RegExp): FaultCase {
  return {
    group: 'import',
    name: `COCO: ${name}`,
    make: (ctx) => {
      const dir = folder(ctx, 'coco', { 'a.png': pngFile(16, 16), 'annotations.json': text });
      return importInto(ctx, path.join(dir, 'annotations.json'), '--format', 'coco');
    },
    message,
  };
}

const ihdr = (width: number, height: number) => {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.set([8, 2, 0, 0, 0], 8);
  return data;
};
const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const pngBomb = Buffer.concat([
  signature,
  pngChunk('IHDR', ihdr(100_000, 100_000)),
  pngChunk('IDAT', deflateSync(Buffer.alloc(1 << 16))),
  pngChunk('IEND', Buffer.alloc(0)),
]);

/** A folder of images holding only `files`: nothing can be imported, and each is named. */
function imagesCase(
  name: string,
  files: (ctx: FaultContext, dir: string) => void,
  message: RegExp,
): FaultCase {
  return {
    group: 'import',
    name: `images: ${name}`,
    make: (ctx) => {
      const dir = folder(ctx, 'images', {});
      files(ctx, dir);
      return importInto(ctx, dir, '--format', 'folder');
    },
    message,
  };
}

/** A VLM-R1 JSONL file beside one image. */
function vlmr1Case(name: string, lines: string, message: RegExp): FaultCase {
  return {
    group: 'import',
    name: `VLM-R1: ${name}`,
    make: (ctx) => {
      const dir = folder(ctx, 'r1', { 'a.png': pngFile(16, 16), 'data.jsonl': lines });
      return importInto(ctx, path.join(dir, 'data.jsonl'), '--format', 'vlmr1');
    },
    message,
  };
}

/** A Visual-RFT JSON file beside one image. */
function visualRftCase(name: string, text: string, message: RegExp): FaultCase {
  return {
    group: 'import',
    name: `Visual-RFT: ${name}`,
    make: (ctx) => {
      const dir = folder(ctx, 'vr', { 'a.png': pngFile(16, 16), 'data.json': text });
      return importInto(ctx, path.join(dir, 'data.json'), '--format', 'visualrft');
    },
    message,
  };
}

const ask = (what: string) =>
  `<image>Please provide the bounding box coordinate of the region this sentence describes: ${what}.`;
const r1 = (answer: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 1,
    image: 'a.png',
    conversations: [
      { from: 'human', value: ask('the dot') },
      { from: 'gpt', value: answer },
    ],
    ...extra,
  });
const detectionAsk =
  "Detect all objects belonging to the category 'dot' in the image, and provide the bounding boxes " +
  '(between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places). If no object ' +
  "belonging to the category 'dot' in the image, return 'No Objects'.";

export const importCases: FaultCase[] = [
  cocoCase(
    'cut off mid-file',
    coco({}).slice(0, 60),
    /annotations\.json, line 1, column \d+: not valid JSON/,
  ),
  cocoCase('an empty file', '', /annotations\.json: not valid JSON \(the file is empty\)/),
  cocoCase('images is not a list', coco({ images: { id: 1 } }), /annotations\.json.*images.*(list|array)/i),
  cocoCase(
    'a bbox of strings',
    coco({ annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: ['1', 1, 5, 5] }] }),
    /annotations\.json.*bbox/,
  ),
  cocoCase(
    'NaN in a bbox',
    coco({}).replace('[1,1,5,5]', '[NaN,1,5,5]'),
    /annotations\.json, line 1, column \d+: not valid JSON .*NaN is not JSON/,
  ),
  cocoCase(
    'a bbox of 1e308',
    coco({ annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 1e308, 5] }] }),
    /annotations\.json, annotations\[0\].*lies far outside the 16×16 image/,
  ),
  cocoCase(
    'a negative bbox size',
    coco({ annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, -5, 5] }] }),
    /annotations\.json.*(bbox|width|size)/i,
  ),
  cocoCase(
    'two images with one id',
    coco({
      images: [
        { id: 1, file_name: 'a.png', width: 16, height: 16 },
        { id: 1, file_name: 'a.png', width: 16, height: 16 },
      ],
    }),
    /annotations\.json, images\[1\]\.id: 1 is used by an earlier image/,
  ),
  cocoCase(
    'an annotation of an image that is not listed',
    coco({ annotations: [{ id: 1, image_id: 9, category_id: 1, bbox: [1, 1, 5, 5] }] }),
    /annotations\.json, annotations\[0\]\.image_id: 9 is not the id of an image/,
  ),
  cocoCase(
    'an annotation of a category that is not listed',
    coco({ annotations: [{ id: 1, image_id: 1, category_id: 7, bbox: [1, 1, 5, 5] }] }),
    /annotations\.json, annotations\[0\]\.category_id: 7 is not the id of a category/,
  ),
  cocoCase(
    'an image outside the folder (..)',
    coco({ images: [{ id: 1, file_name: '../../nowhere/a.png', width: 16, height: 16 }] }),
    /nowhere\/a\.png.*(not found|no such|missing|cannot)/i,
  ),
  cocoCase('a category without a name', coco({ categories: [{ id: 1 }] }), /annotations\.json.*(name)/),
  vlmr1Case('a line that is not JSON', `${r1('[1, 1, 5, 5]')}\n{not json\n`, /data\.jsonl, line 2/),
  vlmr1Case('no conversations', '{"id": 1, "image": "a.png"}\n', /data\.jsonl, line 1/),
  vlmr1Case('a box of three numbers', `${r1('[1, 1, 5]')}\n`, /data\.jsonl, line 1/),
  vlmr1Case(
    'an image that is not there',
    `${r1('[1, 1, 5, 5]', { image: 'missing.png' })}\n`,
    /missing\.png/,
  ),
  vlmr1Case('an empty file', '', /data\.jsonl.*(empty|no lines|nothing)/i),
  visualRftCase('not a list', '{"image": "a.png"}', /data\.json.*(list|array)/i),
  visualRftCase(
    'a record without an image',
    JSON.stringify([{ problem: detectionAsk, solution: '<answer>[]</answer>' }]),
    /data\.json, \[0\]\.image: is missing/,
  ),
  visualRftCase(
    'a solution that cannot be read',
    JSON.stringify([{ image: 'a.png', problem: detectionAsk, solution: '<answer>{{{</answer>' }]),
    /data\.json, \[0\]\.solution: is not a Visual-RFT answer/,
  ),
  {
    group: 'import',
    name: 'YOLO: a class index past classes.txt',
    make: (ctx) => {
      const dir = folder(ctx, 'yolo', {
        'classes.txt': 'dot\n',
        'images/a.png': pngFile(16, 16),
        'labels/a.txt': '3 0.5 0.5 0.2 0.2\n',
      });
      return importInto(ctx, dir, '--format', 'yolo');
    },
    message: /a\.txt.*line 1.*class 3/,
  },
  {
    group: 'import',
    name: 'YOLO: a coordinate that is not a number',
    make: (ctx) => {
      const dir = folder(ctx, 'yolo', {
        'classes.txt': 'dot\n',
        'images/a.png': pngFile(16, 16),
        'labels/a.txt': '0 0.5 zero 0.2 0.2\n',
      });
      return importInto(ctx, dir, '--format', 'yolo');
    },
    message: /a\.txt.*line 1/,
  },
  {
    group: 'import',
    name: 'VOC: malformed XML',
    make: (ctx) => {
      const dir = folder(ctx, 'voc', {
        'a.png': pngFile(16, 16),
        'a.xml': '<annotation><filename>a.png</filename><object>',
      });
      return importInto(ctx, dir, '--format', 'voc');
    },
    message: /a\.xml/,
  },
  {
    group: 'import',
    name: 'LISA: an annotation that is not JSON',
    make: (ctx) => {
      const dir = folder(ctx, 'lisa', {
        'a.png': pngFile(16, 16),
        'a.json': '{"text": ["what is it?"], "shapes": [',
      });
      return importInto(ctx, dir, '--format', 'lisa');
    },
    message: /a\.json.*not valid JSON/,
  },
  {
    group: 'import',
    name: 'Hugging Face: a parquet file that is not parquet',
    make: (ctx) => {
      const dir = folder(ctx, 'hf', {
        'data/train-00000-of-00001.parquet': 'PAR1 this is not parquet at all',
      });
      return importInto(ctx, dir, '--format', 'hf');
    },
    message: /train-00000-of-00001\.parquet.*parquet/,
  },
  imagesCase('a zero-byte PNG', (_, dir) => writeFileSync(path.join(dir, 'a.png'), ''), /a\.png.*empty/),
  imagesCase(
    'a PNG cut short',
    (_, dir) => writeFileSync(path.join(dir, 'a.png'), pngFile(16, 16).subarray(0, 40)),
    /a\.png.*truncated/,
  ),
  imagesCase(
    'a text file named .jpg',
    (_, dir) => writeFileSync(path.join(dir, 'a.jpg'), 'hello, not an image'),
    /a\.jpg.*not a PNG, JPEG or WebP/,
  ),
  imagesCase(
    'a PNG bomb (100000×100000 declared)',
    (_, dir) => writeFileSync(path.join(dir, 'a.png'), pngBomb),
    /a\.png.*100000×100000.*limit/,
  ),
  imagesCase(
    'a named pipe named .png',
    (_, dir) => execFileSync('mkfifo', [path.join(dir, 'a.png')]),
    /a\.png.*named pipe/,
  ),
  imagesCase(
    'a symbolic link that loops',
    (_, dir) => symlinkSync('a.png', path.join(dir, 'a.png')),
    /a\.png.*loops/,
  ),
  imagesCase(
    'a link to a folder named .png',
    (ctx, dir) => symlinkSync(ctx.dir, path.join(dir, 'a.png')),
    /a\.png.*folder/,
  ),
  imagesCase(
    'a file name that is not UTF-8',
    (_, dir) => {
      // A byte sequence no UTF-8 decoder accepts: Node lists it mangled, so it cannot be opened by that name.
      execFileSync('sh', ['-c', `printf x > "$(printf '${dir}/\\377\\376.png')"`]);
    },
    /\.png.*(cannot be read|not found|no such|UTF-8)/i,
  ),
  imagesCase('an empty folder', () => {}, /(no images|holds no|nothing to import)/i),
  {
    group: 'import',
    name: 'a path that does not exist',
    make: (ctx) => importInto(ctx, path.join(ctx.dir, 'nowhere')),
    message: /nowhere.*(not found|no such|does not exist)/i,
  },
  {
    group: 'import',
    name: 'an annotation file that is a named pipe',
    make: (ctx) => {
      execFileSync('mkfifo', [path.join(ctx.dir, 'data.jsonl')]);
      return importInto(ctx, path.join(ctx.dir, 'data.jsonl'), '--format', 'vlmr1');
    },
    message: /data\.jsonl.*named pipe/,
  },
  {
    group: 'import',
    name: 'a dataset name already taken',
    make: (ctx) => {
      const dir = folder(ctx, 'images', { 'a.png': pngFile(16, 16) });
      return ['import', dir, '--dataset', 'shapes', '--data', ctx.data];
    },
    message: /shapes.*(already|taken|exists)/i,
  },
  {
    group: 'import',
    name: 'import-run: trainer_state.json is a named pipe',
    make: (ctx) => {
      const dir = path.join(ctx.dir, 'trl-output');
      mkdirSync(dir);
      execFileSync('mkfifo', [path.join(dir, 'trainer_state.json')]);
      return ['import-run', dir, '--data', ctx.data];
    },
    message: /trainer_state\.json is a named pipe, not a file/,
  },
  {
    group: 'import',
    name: 'import-run: trainer_state.json is not JSON',
    make: (ctx) => {
      const dir = folder(ctx, 'trl-output', { 'trainer_state.json': '{"log_history": [\n  {"step": 1,\n' });
      return ['import-run', dir, '--data', ctx.data];
    },
    message: /trainer_state\.json: not valid JSON/,
  },
  {
    group: 'import',
    name: 'generate: an --image that is a named pipe',
    make: (ctx) => {
      execFileSync('mkfifo', [path.join(ctx.dir, 'b.png')]);
      return [
        'generate',
        '--model',
        'resources/models/tiny-vlm-base',
        '--image',
        path.join(ctx.dir, 'b.png'),
        '--prompt',
        'hi',
      ];
    },
    message: /b\.png is a named pipe, not a file: name the image file/,
  },
  {
    group: 'import',
    name: 'a --data that is a file',
    make: (ctx) => {
      const dir = folder(ctx, 'images', { 'a.png': pngFile(16, 16) });
      writeFileSync(path.join(ctx.dir, 'notes.txt'), 'mine\n');
      return ['import', dir, '--dataset', 'x', '--data', path.join(ctx.dir, 'notes.txt')];
    },
    message: /notes\.txt is a file, not a folder: the workspace \(--data\) must be a folder/,
  },
];
