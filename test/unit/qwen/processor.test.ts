/**
 * vrft's Qwen2-VL image processor against transformers 5.18's (the PIL one) and Pillow's bicubic
 * resize (fixtures by tools/reference/qwen_processor.py): smart_resize sizes and errors, resized
 * bytes, image_grid_thw and pixel values bit for bit, image pad counts. Images are read with
 * vrft's own decoder, as training reads them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/main/data/imageFiles';
import type { QwenImageProcessorConfig } from '../../../src/main/models/qwen2-vl/config';
import {
  imagePadCount,
  processImage,
  resizeBicubic,
  smartResize,
} from '../../../src/main/models/qwen2-vl/processor';
import type { RgbImage } from '../../../src/main/models/policy';
import { readSafetensors } from '../../../src/main/models/safetensors';

const fixtures = path.join(__dirname, '../../fixtures/qwen/processor');

interface Size {
  width: number;
  height: number;
}
interface ImageCase {
  name: string;
  settings: 'checkpoint' | 'hub';
  image: string;
  mode: 'RGB' | 'RGBA';
  size: Size;
  min_pixels: number;
  max_pixels: number;
  resized: Size;
  resized_image: string;
  image_grid_thw: [number, number, number];
  rows: number;
  row_width: number;
  tensor: string;
  stored_rows: number[];
  sha256: string;
  fsum: number;
}
interface SmartResizeCase extends Size {
  min_pixels: number;
  max_pixels: number;
  resized?: Size;
  error?: string;
}
interface BicubicCase extends Size {
  rgb: string;
  resized: (Size & { rgb: string })[];
}
interface Fixture {
  images: ImageCase[];
  smart_resize: SmartResizeCase[];
  bicubic: BicubicCase[];
}

const fixture = JSON.parse(readFileSync(path.join(fixtures, 'cases.json'), 'utf8')) as Fixture;
const stored = readSafetensors(path.join(fixtures, 'pixels.safetensors')).tensors;
const checkpointJson = JSON.parse(
  readFileSync(
    path.join(__dirname, '../../fixtures/qwen/qwen2-vl/checkpoint/preprocessor_config.json'),
    'utf8',
  ),
) as {
  min_pixels: number;
  max_pixels: number;
  patch_size: number;
  temporal_patch_size: number;
  merge_size: number;
  image_mean: [number, number, number];
  image_std: [number, number, number];
};

function configFor(minPixels: number, maxPixels: number): QwenImageProcessorConfig {
  return {
    minPixels,
    maxPixels,
    patchSize: checkpointJson.patch_size,
    temporalPatchSize: checkpointJson.temporal_patch_size,
    mergeSize: checkpointJson.merge_size,
    imageMean: checkpointJson.image_mean,
    imageStd: checkpointJson.image_std,
  };
}
const hubMax = 28 * 28 * 16384;
const checkpoint = configFor(checkpointJson.min_pixels, checkpointJson.max_pixels);
const hub = configFor(checkpointJson.min_pixels, hubMax);

const load = (file: string): RgbImage => decodeImage(readFileSync(path.join(fixtures, file)));
const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));

/** Where two byte arrays first differ, and how many bytes do (for a readable failure). */
function byteDiff(a: Uint8Array, b: Uint8Array): { differing: number; first: number } {
  expect(a.length).toBe(b.length);
  let differing = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) {
      differing++;
      if (first < 0) first = i;
    }
  return { differing, first };
}

/** A smooth test image built in memory, for the timing-free checks that need no fixture. */
function gradient(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = (x * 255) / Math.max(1, width - 1);
      rgb[i + 1] = (y * 255) / Math.max(1, height - 1);
      rgb[i + 2] = (x + y) % 256;
    }
  return { width, height, rgb };
}

describe('smartResize', () => {
  it("gives transformers' size or its aspect-ratio error for every fixture case", () => {
    expect(fixture.smart_resize.length).toBeGreaterThan(1000);
    const errors = fixture.smart_resize.filter((c) => c.error);
    expect(errors.length).toBeGreaterThan(10);
    for (const c of fixture.smart_resize) {
      const run = () => smartResize(c.height, c.width, 28, c.min_pixels, c.max_pixels);
      if (c.error) expect(run, JSON.stringify(c)).toThrow(/aspect ratio .* over 200/);
      else expect(run(), JSON.stringify(c)).toEqual(c.resized);
    }
  });

  it('rounds halves to even, as Python does', () => {
    expect(smartResize(70, 98, 28, 3136, hubMax)).toEqual({ height: 56, width: 112 });
    expect(smartResize(42, 126, 28, 3136, hubMax)).toEqual({ height: 56, width: 112 });
  });

  it('keeps the quirks: a side rounding to 0 takes the min branch; max(28, …) can exceed max_pixels', () => {
    expect(smartResize(10, 1000, 28, 3136, 313600)).toEqual({ height: 28, width: 560 });
    expect(smartResize(30, 5900, 28, 3136, 50000)).toEqual({ height: 28, width: 3108 }); // 87,024 px > 50,000
  });

  it("gives QWEN.md's sizes at the hub's limits", () => {
    expect(smartResize(480, 640, 28, 3136, hubMax)).toEqual({ height: 476, width: 644 });
    expect(smartResize(1080, 1920, 28, 3136, hubMax)).toEqual({ height: 1092, width: 1932 });
  });

  it('refuses an aspect ratio over 200 and a size that is not an image', () => {
    expect(() => smartResize(1, 200)).not.toThrow();
    expect(() => smartResize(1, 201)).toThrow(/201×1 pixels: its aspect ratio 201\.0 is over 200/);
    expect(() => smartResize(0, 10)).toThrow(/positive whole width and height/);
    expect(() => processImage(gradient(250, 1), checkpoint)).toThrow(/aspect ratio/);
  });
});

describe("resizeBicubic is Pillow's Image.resize(BICUBIC)", () => {
  const cases = fixture.bicubic.flatMap((source) => source.resized.map((target) => ({ source, target })));

  it.each(
    cases.map((c) => [`${c.source.width}×${c.source.height} → ${c.target.width}×${c.target.height}`, c]),
  )('%s, byte for byte', (_, { source, target }) => {
    const image = { width: source.width, height: source.height, rgb: bytes(source.rgb) };
    const out = resizeBicubic(image, target.width, target.height);
    expect([out.width, out.height]).toEqual([target.width, target.height]);
    expect(byteDiff(out.rgb, bytes(target.rgb))).toEqual({ differing: 0, first: -1 });
    expect(image.rgb).toEqual(bytes(source.rgb)); // the input is left as it was
  });

  it('returns a copy, not the input, when the size does not change', () => {
    const image = gradient(5, 4);
    const out = resizeBicubic(image, 5, 4);
    expect(out.rgb).toEqual(image.rgb);
    expect(out.rgb).not.toBe(image.rgb);
  });
});

describe("processImage equals transformers' Qwen2VLImageProcessor", () => {
  it.each(fixture.images.map((c) => [`${c.name} (${c.settings})`, c]))('%s', (_, c) => {
    const image = load(c.image);
    expect([image.width, image.height]).toEqual([c.size.width, c.size.height]);
    const config = c.settings === 'hub' ? hub : checkpoint;
    expect([config.minPixels, config.maxPixels]).toEqual([c.min_pixels, c.max_pixels]);

    // Pillow's resized bytes (the RGBA picture: alpha dropped, as convert('RGB') does).
    const pillow = load(c.resized_image);
    const resized = resizeBicubic(image, c.resized.width, c.resized.height);
    expect(byteDiff(resized.rgb, pillow.rgb)).toEqual({ differing: 0, first: -1 });

    const out = processImage(image, config);
    expect(out.resized).toEqual(c.resized);
    expect(out.gridThw).toEqual(c.image_grid_thw);
    expect(out.rows).toBe(c.rows);
    expect(out.pixelValues.length).toBe(c.rows * c.row_width);

    // The stored rows value for value (all rows for the small images), then every value by hash.
    const expected = stored.get(c.tensor)!;
    expect(expected.shape).toEqual([c.stored_rows.length, c.row_width]);
    c.stored_rows.forEach((row, i) => {
      const ours = out.pixelValues.subarray(row * c.row_width, (row + 1) * c.row_width);
      const theirs = expected.data.subarray(i * c.row_width, (i + 1) * c.row_width);
      const first = ours.findIndex((v, k) => !Object.is(v, theirs[k]));
      expect(first, `row ${row}: value ${first} is ${ours[first]}, not ${theirs[first]}`).toBe(-1);
    });
    let sum = 0;
    for (const v of out.pixelValues) sum += v;
    expect(sum).toBeCloseTo(c.fsum, 2);
    const le = Buffer.from(out.pixelValues.buffer, out.pixelValues.byteOffset, out.pixelValues.byteLength);
    expect(createHash('sha256').update(le).digest('hex')).toBe(c.sha256);
  });

  it('covers the cases the issue names', () => {
    const names = new Set(fixture.images.map((c) => `${c.name}.${c.settings}`));
    for (const name of [
      'square_224.checkpoint',
      'photo_640x480.checkpoint',
      'photo_640x480.hub',
      'tall_97x301.checkpoint',
      'large_1024x768.checkpoint',
      'large_1024x768.hub',
      'tiny_20x30.checkpoint',
      'rgba_150x100.checkpoint',
    ])
      expect(names).toContain(name);
    const over = fixture.images.find((c) => c.name === 'large_1024x768' && c.settings === 'checkpoint')!;
    expect(over.size.width * over.size.height).toBeGreaterThan(over.max_pixels);
    const under = fixture.images.find((c) => c.name === 'tiny_20x30')!;
    expect(under.size.width * under.size.height).toBeLessThan(under.min_pixels);
  });

  it('repeats each frame T times inside a row: [c][t][y][x]', () => {
    const out = processImage(gradient(56, 56), checkpoint);
    const area = 14 * 14;
    for (let row = 0; row < out.rows; row++)
      for (let c = 0; c < 3; c++) {
        const base = row * 3 * 2 * area + c * 2 * area;
        expect(out.pixelValues.subarray(base + area, base + 2 * area)).toEqual(
          out.pixelValues.subarray(base, base + area),
        );
      }
  });
});

describe('imagePadCount', () => {
  it('is one <|image_pad|> per merged 2×2 block: 224² → 64, 640×480 at the hub max → 391', () => {
    const square = processImage(load('images/square_224.png'), checkpoint);
    expect(square.gridThw).toEqual([1, 16, 16]);
    expect(imagePadCount(square.gridThw, 2)).toBe(64);
    const photo = processImage(load('images/photo_640x480.png'), hub);
    expect(photo.gridThw).toEqual([1, 34, 46]);
    expect(imagePadCount(photo.gridThw, 2)).toBe(391);
    expect(imagePadCount([1, 16, 16], 1)).toBe(256);
  });
});
