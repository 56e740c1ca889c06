/** Image files for tests, made in memory: PNG (via our encoder), JPEG (jpeg-js) and WebP, with EXIF. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import jpeg from 'jpeg-js';
import { encodePng } from '../../src/main/data/png';

/** An RGB image whose pixel colour is `colour(x, y)`. */
export function rgbImage(
  width: number,
  height: number,
  colour: (x: number, y: number) => [number, number, number],
): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(colour(x, y), (y * width + x) * 3);
  return rgb;
}

/** A PNG whose colours depend on `seed`, so different seeds give different content (and sha256). */
export function pngFile(width: number, height: number, seed = 0): Buffer {
  return encodePng(
    width,
    height,
    rgbImage(width, height, (x, y) => [(x * 7 + seed) & 255, (y * 13 + seed * 3) & 255, seed & 255]),
  );
}

/** A JPEG of the given RGB pixels, with an EXIF orientation when asked (APP1 right after SOI). */
export function jpegFile(width: number, height: number, rgb: Uint8Array, orientation?: number): Buffer {
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0; i < width * height; i++) rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
  const encoded = jpeg.encode({ width, height, data: rgba }, 95).data;
  if (orientation === undefined) return encoded;
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exifTiff(orientation)]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([encoded.subarray(0, 2), app1, payload, encoded.subarray(2)]);
}

/** A little-endian TIFF block with one IFD entry: Orientation (0x0112, SHORT) = `orientation`. */
export function exifTiff(orientation: number): Buffer {
  const tiff = Buffer.alloc(26);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4); // IFD0 right after the header
  tiff.writeUInt16LE(1, 8); // one entry
  tiff.writeUInt16LE(0x0112, 10);
  tiff.writeUInt16LE(3, 12); // SHORT
  tiff.writeUInt32LE(1, 14); // one value
  tiff.writeUInt16LE(orientation, 18);
  tiff.writeUInt32LE(0, 22); // no next IFD
  return tiff;
}

/**
 * A lossless 3 × 2 WebP (libwebp's encoder, exact): red green blue / yellow cyan magenta. Kept as
 * bytes so tests need no encoder.
 */
export const webp3x2 = Buffer.from(
  'UklGRjQAAABXRUJQVlA4TCgAAAAvAkAAAC8gEEjaH3qN+RcQFPk/2vwHH0QCg0K2EeDQvQSncBH9j2MF',
  'base64',
);
export const webp3x2Pixels = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
  [0, 255, 255],
  [255, 0, 255],
];

function riffChunk(type: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(type, 0, 'latin1');
  header.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, data, Buffer.alloc(data.length & 1)]);
}

/** The 3 × 2 WebP in an extended (VP8X) container with an EXIF chunk carrying `orientation`. */
export function webpWithOrientation(orientation: number): Buffer {
  const vp8l = webp3x2.subarray(12); // the VP8L chunk, header included
  const vp8x = Buffer.alloc(10);
  vp8x[0] = 0x08; // EXIF present
  vp8x.writeUIntLE(3 - 1, 4, 3);
  vp8x.writeUIntLE(2 - 1, 7, 3);
  const body = Buffer.concat([
    Buffer.from('WEBP', 'latin1'),
    riffChunk('VP8X', vp8x),
    vp8l,
    riffChunk('EXIF', exifTiff(orientation)),
  ]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** One PNG chunk: length, type, data, CRC — for tests that hand-build PNG files. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A JPEG file at `file` (folders made) of a gradient tinted by `shade`; returns the path. */
export function writeJpeg(file: string, width: number, height: number, shade = 90): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    jpegFile(
      width,
      height,
      rgbImage(width, height, (x, y) => [x % 256, y % 256, shade]),
    ),
  );
  return file;
}
