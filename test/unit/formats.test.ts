import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyOrientation, type Orientation } from '../../src/main/data/exif';
import { uniqueStems } from '../../src/main/data/formats/files';
import {
  readVisualRftSolution,
  readVlmR1Answer,
  visualRftCategory,
  visualRftPrompt,
  visualRftSolution,
  vlmR1Answer,
  vlmR1Categories,
  vlmR1Prompt,
} from '../../src/main/data/formats/prompts';
import { parseXml } from '../../src/main/data/formats/xml';
import { decodeImage, ImageFileError, makeThumbnail, probeImage } from '../../src/main/data/imageFiles';
import { decodePng, encodePng } from '../../src/main/data/png';
import {
  jpegFile,
  pngChunk,
  pngFile,
  rgbImage,
  webp3x2,
  webp3x2Pixels,
  webpWithOrientation,
} from '../support/imageFiles';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const pixel = (image: { width: number; rgb: Uint8Array }, x: number, y: number) =>
  Array.from(image.rgb.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));

/** Two colour blocks side by side: the left half red, the right half blue (JPEG-friendly: flat 8×8 blocks). */
const halves = (width: number, height: number) =>
  rgbImage(width, height, (x) => (x < width / 2 ? [255, 0, 0] : [0, 0, 255]));

const isRed = ([r, g, b]: number[]) => r! > 200 && g! < 60 && b! < 60;
const isBlue = ([r, g, b]: number[]) => r! < 60 && g! < 60 && b! > 200;

describe('probeImage', () => {
  it('reads format, size and sha256 of PNG, JPEG and WebP from their headers', () => {
    const png = pngFile(37, 21);
    expect(probeImage(png)).toEqual({
      format: 'png',
      width: 37,
      height: 21,
      orientation: 1,
      displayWidth: 37,
      displayHeight: 21,
      sha256: sha256(png),
    });
    const jpg = jpegFile(24, 16, halves(24, 16));
    expect(probeImage(jpg)).toMatchObject({ format: 'jpeg', width: 24, height: 16, orientation: 1 });
    expect(probeImage(webp3x2)).toMatchObject({ format: 'webp', width: 3, height: 2, displayWidth: 3 });
  });

  it('gives the displayed size after EXIF orientation: 5–8 swap width and height', () => {
    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const probe = probeImage(jpegFile(16, 8, halves(16, 8), orientation));
      const swapped = orientation >= 5;
      expect(probe).toMatchObject({
        width: 16,
        height: 8,
        orientation,
        displayWidth: swapped ? 8 : 16,
        displayHeight: swapped ? 16 : 8,
      });
    }
    expect(probeImage(webpWithOrientation(6))).toMatchObject({
      format: 'webp',
      width: 3,
      height: 2,
      orientation: 6,
      displayWidth: 2,
      displayHeight: 3,
    });
  });

  it.each([
    ['an empty file', Buffer.alloc(0), /empty/],
    ['another format', Buffer.from('GIF89a…'), /not a PNG, JPEG or WebP/],
    ['a truncated PNG', pngFile(20, 20).subarray(0, 60), /truncated/],
    ['a JPEG cut inside its headers', jpegFile(32, 32, halves(32, 32)).subarray(0, 100), /truncated/],
    [
      'a JPEG cut inside its image data',
      jpegFile(32, 32, halves(32, 32)).subarray(0, -10),
      /truncated \(no end of image\)/,
    ],
    ['a truncated WebP', webp3x2.subarray(0, 40), /truncated/],
    [
      'a PNG with a damaged chunk',
      (() => {
        const png = pngFile(8, 8);
        png[40] = png[40]! ^ 0xff;
        return png;
      })(),
      /CRC/,
    ],
  ])('refuses %s with a one-line reason', (_, bytes, reason) => {
    expect(() => probeImage(bytes)).toThrow(ImageFileError);
    expect(() => probeImage(bytes)).toThrow(reason);
    try {
      probeImage(bytes);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('decodeImage', () => {
  it('applies each EXIF orientation as its definition says', () => {
    // a b c / d e f, one grey level each.
    const stored = { width: 3, height: 2, rgb: rgbImage(3, 2, (x, y) => [y * 3 + x, 0, 0]) };
    const [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5];
    const expected: Record<Orientation, number[][]> = {
      1: [
        [a, b, c],
        [d, e, f],
      ],
      2: [
        [c, b, a],
        [f, e, d],
      ],
      3: [
        [f, e, d],
        [c, b, a],
      ],
      4: [
        [d, e, f],
        [a, b, c],
      ],
      5: [
        [a, d],
        [b, e],
        [c, f],
      ],
      6: [
        [d, a],
        [e, b],
        [f, c],
      ],
      7: [
        [f, c],
        [e, b],
        [d, a],
      ],
      8: [
        [c, f],
        [b, e],
        [a, d],
      ],
    };
    for (const [orientation, rows] of Object.entries(expected)) {
      const shown = applyOrientation(stored, Number(orientation) as Orientation);
      const grid = Array.from({ length: shown.height }, (_, y) =>
        Array.from({ length: shown.width }, (_, x) => pixel(shown, x, y)[0]),
      );
      expect(grid, `orientation ${orientation}`).toEqual(rows);
    }
  });

  it('turns an orientation-6 JPEG upright: the stored left edge becomes the top', () => {
    const bytes = jpegFile(16, 8, halves(16, 8), 6);
    const image = decodeImage(bytes);
    expect([image.width, image.height]).toEqual([8, 16]);
    expect(isRed(pixel(image, 4, 2))).toBe(true);
    expect(isBlue(pixel(image, 4, 13))).toBe(true);
    const upright = decodeImage(jpegFile(16, 8, halves(16, 8)));
    expect([upright.width, upright.height]).toEqual([16, 8]);
    expect(isRed(pixel(upright, 2, 4)) && isBlue(pixel(upright, 13, 4))).toBe(true);
  });

  it('decodes WebP (lossless, exact) and applies its EXIF orientation', () => {
    const image = decodeImage(webp3x2);
    expect([image.width, image.height]).toEqual([3, 2]);
    expect(Array.from({ length: 6 }, (_, i) => pixel(image, i % 3, Math.floor(i / 3)))).toEqual(
      webp3x2Pixels,
    );
    const turned = decodeImage(webpWithOrientation(6));
    expect([turned.width, turned.height]).toEqual([2, 3]);
    expect(pixel(turned, 0, 0)).toEqual(webp3x2Pixels[3]); // d a / e b / f c
    expect(pixel(turned, 1, 0)).toEqual(webp3x2Pixels[0]);
  });

  it('reads the PNG kinds beyond 8-bit RGB: palette, grey, grey + alpha, 16-bit, interlaced', () => {
    const [width, height] = [9, 10];
    const colour = (x: number, y: number): [number, number, number] => [
      (x * 29) % 256,
      (y * 23) % 256,
      (x * y * 7) % 256,
    ];
    const rgb = rgbImage(width, height, colour);
    const palette = Array.from({ length: 4 }, (_, i) => [i * 60, 255 - i * 60, i * 20]);
    const grey2 = (x: number, y: number) => (x + y) % 4; // 2-bit grey
    const cases: { name: string; png: Buffer; expect: (x: number, y: number) => number[] }[] = [
      {
        name: 'palette, 2-bit',
        png: pngOf({
          width,
          height,
          colourType: 3,
          bitDepth: 2,
          palette,
          samples: (x, y) => [(x + 2 * y) % 4],
        }),
        expect: (x, y) => palette[(x + 2 * y) % 4]!,
      },
      {
        name: 'palette, 8-bit',
        png: pngOf({ width, height, colourType: 3, bitDepth: 8, palette, samples: (x, y) => [(x * y) % 4] }),
        expect: (x, y) => palette[(x * y) % 4]!,
      },
      {
        name: 'grey, 2-bit (scaled to 0–255)',
        png: pngOf({ width, height, colourType: 0, bitDepth: 2, samples: (x, y) => [grey2(x, y)] }),
        expect: (x, y) => Array(3).fill(grey2(x, y) * 85),
      },
      {
        name: 'grey + alpha, 8-bit',
        png: pngOf({ width, height, colourType: 4, bitDepth: 8, samples: (x, y) => [x * 20 + y, 128] }),
        expect: (x, y) => Array(3).fill(x * 20 + y),
      },
      {
        name: 'RGB, 16-bit (high byte)',
        png: pngOf({
          width,
          height,
          colourType: 2,
          bitDepth: 16,
          samples: (x, y) => colour(x, y).map((v) => v * 256 + 99),
        }),
        expect: colour,
      },
      {
        name: 'RGBA, 16-bit',
        png: pngOf({
          width,
          height,
          colourType: 6,
          bitDepth: 16,
          samples: (x, y) => [...colour(x, y).map((v) => v * 257), 0],
        }),
        expect: colour,
      },
      {
        name: 'RGB, Adam7-interlaced',
        png: pngOf({ width, height, colourType: 2, bitDepth: 8, interlace: 1, samples: colour }),
        expect: colour,
      },
    ];
    for (const c of cases) {
      const decoded = decodePng(c.png);
      const expected = rgbImage(width, height, (x, y) => c.expect(x, y) as [number, number, number]);
      expect(Buffer.from(decoded.rgb).equals(Buffer.from(expected)), c.name).toBe(true);
    }
    expect(Buffer.from(decodeImage(encodePng(width, height, rgb)).rgb).equals(Buffer.from(rgb))).toBe(true);
  });

  it('says why it cannot decode a damaged image', () => {
    const png = pngFile(8, 8);
    expect(() => decodeImage(png.subarray(0, 50))).toThrow(/PNG is truncated/);
  });

  it('refuses an image whose header declares more pixels than the limit, before decoding (a bomb)', () => {
    // A PNG that claims 100000×100000 in a few hundred bytes.
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(100_000, 0);
    ihdr.writeUInt32BE(100_000, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const bomb = Buffer.concat([
      signature,
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', deflateSync(Buffer.alloc(1 << 20))),
      pngChunk('IEND', Buffer.alloc(0)),
    ]);
    const limit = /declares 100000×100000 pixels \(10000 MP\), over the limit of 179 MP: resize it/;
    expect(() => probeImage(bomb)).toThrow(limit);
    expect(() => decodeImage(bomb)).toThrow(limit);
    // A JPEG whose frame header claims 65535×65535.
    const jpeg = jpegFile(8, 8, halves(8, 8));
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(65535, sof + 5);
    jpeg.writeUInt16BE(65535, sof + 7);
    expect(() => probeImage(jpeg)).toThrow(/JPEG declares 65535×65535 pixels .* over the limit of 179 MP/);
    expect(() => decodeImage(jpeg)).toThrow(ImageFileError);
  });

  it('never inflates a PNG past the size its header declares (a deflate bomb)', () => {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(16, 0);
    ihdr.writeUInt32BE(16, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const bomb = Buffer.concat([
      signature,
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', deflateSync(Buffer.alloc(64 << 20))),
      pngChunk('IEND', Buffer.alloc(0)),
    ]);
    expect(() => decodeImage(bomb)).toThrow(/inflates past the 16×16 pixels its header declares/);
  });
});

describe('makeThumbnail', () => {
  it('shrinks to 160 px on the longer side by averaging, never enlarges, and shows the image upright', () => {
    // Alternating black and white columns: an area average is mid-grey, sampling would be black or white.
    const stripes = encodePng(
      320,
      200,
      rgbImage(320, 200, (x) => (x % 2 ? [255, 255, 255] : [0, 0, 0])),
    );
    const thumbnail = decodePng(makeThumbnail(stripes));
    expect([thumbnail.width, thumbnail.height]).toEqual([160, 100]);
    expect(new Set(thumbnail.rgb)).toEqual(new Set([128]));

    const smallPng = pngFile(40, 30);
    expect(makeThumbnail(smallPng).equals(smallPng)).toBe(true); // already small: itself
    const smallJpeg = decodePng(makeThumbnail(jpegFile(40, 30, halves(40, 30))));
    expect([smallJpeg.width, smallJpeg.height]).toEqual([40, 30]);

    const turned = decodePng(makeThumbnail(jpegFile(320, 160, halves(320, 160), 6), 80));
    expect([turned.width, turned.height]).toEqual([40, 80]);
    expect(isRed(pixel(turned, 20, 5)) && isBlue(pixel(turned, 20, 75))).toBe(true);
  });
});

describe('dataset prompt templates', () => {
  it("reads the category back out of Visual-RFT's detection prompt, as exported and as typeset in the paper", () => {
    const prompt = visualRftPrompt('traffic light');
    expect(prompt).toContain("Detect all objects belonging to the category 'traffic light' in the image");
    expect(prompt).toContain("return 'No Objects'.\nOutput the thinking process");
    expect(visualRftCategory(prompt)).toBe('traffic light');
    expect(visualRftCategory('Detect all objects belonging to the category ’cat’ in the image, and …')).toBe(
      'cat',
    );
    expect(visualRftCategory('What is in the image?')).toBeUndefined();
  });

  it('writes and reads Visual-RFT solutions on 0–1000', () => {
    const boxes = [
      { x1: 10, y1: 20, x2: 300, y2: 400 },
      { x1: 0, y1: 0, x2: 1000, y2: 1000 },
    ];
    const solution = visualRftSolution(boxes);
    expect(solution).toBe(
      "<answer>[{'Position': [10, 20, 300, 400], 'Confidence': 1}, {'Position': [0, 0, 1000, 1000], 'Confidence': 1}]</answer>",
    );
    expect(readVisualRftSolution(solution)).toEqual({ boxes });
    expect(readVisualRftSolution(visualRftSolution([]))).toEqual({ boxes: [] });
    expect(readVisualRftSolution('<answer>a cat</answer>')).toHaveProperty('problem');
    expect(readVisualRftSolution("<answer>[{'Position': [1, 2, 3]}]</answer>")).toEqual({
      problem: expect.stringContaining('four numbers'),
    });
  });

  it("names VLM-R1's categories as a Python list and reads them back, quotes included", () => {
    const names = ['cat', "dog's toy", 'traffic light'];
    const prompt = vlmR1Prompt(names);
    expect(prompt).toMatch(
      /^<image>Please carefully check the image and detect the following objects: \['cat', "dog's toy", 'traffic light'\]\./,
    );
    expect(vlmR1Categories(prompt)).toEqual(names);
    expect(vlmR1Categories('<image>Locate the red cup.')).toBeUndefined();
    const answer = vlmR1Answer([{ label: 'cat', box: { x1: 1.5, y1: 2, x2: 30, y2: 40.25 } }]);
    expect(answer).toBe('```json\n[{"bbox_2d":[1.5,2,30,40.25],"label":"cat"}]\n```');
    expect(readVlmR1Answer(answer)).toEqual({
      boxes: [{ label: 'cat', box: { x1: 1.5, y1: 2, x2: 30, y2: 40.25 } }],
    });
    expect(readVlmR1Answer('None')).toEqual({ boxes: [] });
    expect(readVlmR1Answer('```json\n[{"bbox_2d": [1, 2], "label": "cat"}]\n```')).toEqual({
      problem: expect.stringContaining('answer item 1: bbox_2d'),
    });
  });
});

describe('helpers', () => {
  it('gives every image its own file stem, in a fixed order, ignoring case', () => {
    expect(uniqueStems(['/a/x.png', '/b/x.jpg', '/c/X.png', '/d/x_2.png', '/e/y.webp'])).toEqual([
      'x',
      'x_2',
      'X_3',
      'x_2_2',
      'y',
    ]);
  });

  it('parses the XML of VOC files and names the line of a mistake', () => {
    const root = parseXml(
      '<?xml version="1.0"?>\n<!-- made by hand -->\n<annotation verified="yes">\n  <filename>a &amp; b.jpg</filename>\n  <object><name>cat</name><bndbox/></object>\n</annotation>\n',
    );
    expect(root.name).toBe('annotation');
    expect(root.children.map((c) => [c.name, c.line])).toEqual([
      ['filename', 4],
      ['object', 5],
    ]);
    expect(root.children[0]!.text).toBe('a & b.jpg');
    expect(() => parseXml('<annotation>\n<object>\n</annotation>')).toThrow(
      /line 3: <\/annotation> closes <object> \(opened on line 2\)/,
    );
    expect(() => parseXml('<annotation>\n<name>cat')).toThrow(/never closed/);
  });
});

/** A PNG of any colour type, bit depth and interlacing, one deflated IDAT, filter 0 on every row. */
function pngOf(o: {
  width: number;
  height: number;
  colourType: number;
  bitDepth: number;
  interlace?: 0 | 1;
  palette?: number[][];
  samples: (x: number, y: number) => number[];
}): Buffer {
  const passes =
    o.interlace === 1
      ? [
          [0, 0, 8, 8],
          [4, 0, 8, 8],
          [0, 4, 4, 8],
          [2, 0, 4, 4],
          [0, 2, 2, 4],
          [1, 0, 2, 2],
          [0, 1, 1, 2],
        ]
      : [[0, 0, 1, 1]];
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of passes as [number, number, number, number][]) {
    for (let y = y0; y < o.height; y += dy) {
      const bits: number[] = [];
      for (let x = x0; x < o.width; x += dx) {
        for (const s of o.samples(x, y)) for (let b = o.bitDepth - 1; b >= 0; b--) bits.push((s >> b) & 1);
      }
      if (bits.length === 0) continue;
      rows.push(0); // filter: none
      for (let i = 0; i < bits.length; i += 8) {
        let byte = 0;
        for (let k = 0; k < 8; k++) byte = (byte << 1) | (bits[i + k] ?? 0);
        rows.push(byte);
      }
    }
  }
  const chunk = pngChunk;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.width, 0);
  ihdr.writeUInt32BE(o.height, 4);
  ihdr.set([o.bitDepth, o.colourType, 0, 0, o.interlace ?? 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(o.palette ? [chunk('PLTE', Buffer.from(o.palette.flat()))] : []),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
