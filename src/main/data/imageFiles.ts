/**
 * Image files as the workspace sees them: what a file is (format, size, EXIF orientation, content
 * hash) from its headers alone, its pixels upright when a run needs them, and a small thumbnail
 * for the dataset grid. PNG is decoded here (png.ts), JPEG by jpeg-js, WebP by libwebp compiled to
 * WebAssembly (@jsquash/webp, loaded from its own folder, no network).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import jpeg from 'jpeg-js';
import webpDecoderFactory from '@jsquash/webp/codec/dec/webp_dec.js';
import type { Size } from '../../shared/boxes';
import { UserError } from '../../shared/errors';
import { applyOrientation, displayedSize, tiffOrientation, type Orientation } from './exif';
import { checkPng, decodePng, encodePng } from './png';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** File extensions a folder import picks up (lower-case). */
export const imageExtensions: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

/** A file that is not an image we can read, with a one-line reason. */
export class ImageFileError extends Error {
  override name = 'ImageFileError';
}

export interface ImageProbe {
  format: ImageFormat;
  /** As stored in the file. */
  width: number;
  height: number;
  orientation: Orientation;
  /** As shown: after the EXIF orientation (5–8 swap the sides). */
  displayWidth: number;
  displayHeight: number;
  sha256: string;
}

export interface RgbPixels {
  width: number;
  height: number;
  rgb: Uint8Array;
}

type Header = Pick<ImageProbe, 'format' | 'width' | 'height' | 'orientation'>;

/** Reads the headers only (no pixel decoding); a truncated, damaged or unknown file throws. */
export function probeImage(bytes: Buffer): ImageProbe {
  const header = readHeader(bytes);
  const shown = displayedSize(header, header.orientation);
  return {
    ...header,
    displayWidth: shown.width,
    displayHeight: shown.height,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/**
 * The most pixels an image may declare: Pillow's own refusal threshold (2 × MAX_IMAGE_PIXELS), far
 * above any photo a VLM reads, far below what a forged header (a PNG or JPEG "bomb" claiming
 * 100000×100000) would make the decoder allocate. Checked on the header, before any pixel.
 */
export const maxImagePixels = 178_956_970;

function readHeader(bytes: Buffer): Header {
  const header = readFormatHeader(bytes);
  if (header.width * header.height > maxImagePixels) {
    const mp = (n: number) => `${(n / 1e6).toFixed(0)} MP`;
    throw new ImageFileError(
      `the ${header.format.toUpperCase()} declares ${header.width}×${header.height} pixels ` +
        `(${mp(header.width * header.height)}), over the limit of ${mp(maxImagePixels)}: ` +
        'resize it (or split it into tiles) before importing',
    );
  }
  return header;
}

function readFormatHeader(bytes: Buffer): Header {
  if (bytes.length === 0) throw new ImageFileError('the file is empty');
  if (bytes[0] === 0x89 && bytes.toString('latin1', 1, 4) === 'PNG') {
    try {
      const { width, height } = checkPng(bytes);
      return { format: 'png', width, height, orientation: 1 };
    } catch (error) {
      throw new ImageFileError((error as Error).message);
    }
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegHeader(bytes);
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    return webpHeader(bytes);
  }
  throw new ImageFileError('not a PNG, JPEG or WebP image');
}

/** Start-of-frame markers carry the size; C4 (DHT), C8 (reserved) and CC (DAC) are not frames. */
const isStartOfFrame = (marker: number) =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/**
 * Walks the JPEG segments up to the first scan: the frame size, the first Exif APP1's orientation.
 * A file cut short has no end-of-image marker after its scan data (scan data cannot contain FF D9:
 * every FF in it is stuffed), which is how truncation shows without decoding.
 */
function jpegHeader(bytes: Buffer): Header {
  let offset = 2;
  let size: Size | undefined;
  let orientation: Orientation | undefined;
  for (;;) {
    if (offset + 4 > bytes.length) throw new ImageFileError('JPEG is truncated before its image data');
    if (bytes[offset] !== 0xff) throw new ImageFileError(`JPEG is damaged (no marker at byte ${offset})`);
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9) throw new ImageFileError('JPEG ends before any image data');
    const length = bytes.readUInt16BE(offset + 2);
    const end = offset + 2 + length;
    if (length < 2 || end > bytes.length)
      throw new ImageFileError('JPEG is truncated inside a header segment');
    const segment = bytes.subarray(offset + 4, end);
    if (marker === 0xe1 && orientation === undefined && segment.toString('latin1', 0, 6) === 'Exif\0\0') {
      orientation = tiffOrientation(segment.subarray(6));
    } else if (isStartOfFrame(marker) && segment.length >= 5) {
      size = { height: segment.readUInt16BE(1), width: segment.readUInt16BE(3) };
    } else if (marker === 0xda) {
      if (!size) throw new ImageFileError('JPEG has no frame header before its image data');
      if (size.width === 0 || size.height === 0) {
        throw new ImageFileError('JPEG has zero width or height in its frame header');
      }
      if (bytes.lastIndexOf(endOfImage) < end)
        throw new ImageFileError('JPEG is truncated (no end of image)');
      return { format: 'jpeg', ...size, orientation: orientation ?? 1 };
    }
    offset = end;
  }
}

const endOfImage = Buffer.from([0xff, 0xd9]);

/** RIFF chunks: the canvas (VP8X) or bitstream (VP8, VP8L) size, and an EXIF chunk's orientation. */
function webpHeader(bytes: Buffer): Header {
  const riffEnd = 8 + bytes.readUInt32LE(4);
  if (riffEnd > bytes.length)
    throw new ImageFileError('WebP is truncated (shorter than its RIFF header says)');
  let size: Size | undefined;
  let canvas: Size | undefined;
  let orientation: Orientation = 1;
  for (let offset = 12; offset + 8 <= riffEnd;) {
    const type = bytes.toString('latin1', offset, offset + 4);
    const length = bytes.readUInt32LE(offset + 4);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (offset + 8 + length > riffEnd) throw new ImageFileError(`WebP is truncated inside its ${type} chunk`);
    if (type === 'VP8X' && length >= 10) {
      canvas = { width: 1 + data.readUIntLE(4, 3), height: 1 + data.readUIntLE(7, 3) };
    } else if (type === 'VP8 ' && length >= 10) {
      if (data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) {
        throw new ImageFileError('WebP lossy bitstream is damaged (bad start code)');
      }
      size = { width: data.readUInt16LE(6) & 0x3fff, height: data.readUInt16LE(8) & 0x3fff };
    } else if (type === 'VP8L' && length >= 5) {
      if (data[0] !== 0x2f) throw new ImageFileError('WebP lossless bitstream is damaged (bad signature)');
      const bits = data.readUInt32LE(1);
      size = { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    } else if (type === 'EXIF') {
      // Some writers keep the JPEG APP1 prefix; the specification says the TIFF block alone.
      orientation = tiffOrientation(data.toString('latin1', 0, 6) === 'Exif\0\0' ? data.subarray(6) : data);
    }
    offset += 8 + length + (length & 1); // chunks are padded to an even length
  }
  const found = canvas ?? size;
  if (!found) throw new ImageFileError('WebP has no image chunk (VP8, VP8L or VP8X)');
  if (found.width === 0 || found.height === 0) throw new ImageFileError('WebP has zero width or height');
  return { format: 'webp', ...found, orientation };
}

/** The pixels as shown (EXIF orientation applied), 8-bit RGB; alpha is dropped. */
export function decodeImage(bytes: Buffer): RgbPixels {
  const header = readHeader(bytes);
  let stored: RgbPixels;
  try {
    if (header.format === 'png') stored = decodePng(bytes);
    else if (header.format === 'jpeg') stored = decodeJpeg(bytes);
    else stored = decodeWebp(bytes);
  } catch (error) {
    if (error instanceof UserError || error instanceof ImageFileError) throw error;
    throw new ImageFileError(error instanceof Error ? error.message : String(error));
  }
  return applyOrientation(stored, header.orientation);
}

function decodeJpeg(bytes: Buffer): RgbPixels {
  // Limits well above any photo, below what would exhaust memory on a bad header.
  const { width, height, data } = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: 250,
    maxMemoryUsageInMB: 2048,
  });
  return { width, height, rgb: data };
}

interface WebpDecoder {
  decode(data: Uint8Array): { width: number; height: number; data: Uint8ClampedArray } | null;
}

let webp: WebpDecoder | undefined;

/** The slice of the WebAssembly API used here (the Node lib types this project builds with lack it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * libwebp's decoder, instantiated synchronously from the .wasm beside its glue code, so decoding
 * stays a plain function call (training reads images synchronously). The Emscripten glue attaches
 * `decode` to the options object during instantiation; the package version is pinned.
 */
function webpDecoder(): WebpDecoder {
  if (webp) return webp;
  const options: Partial<WebpDecoder> & Record<string, unknown> = {
    noInitialRun: true,
    instantiateWasm(imports: object, done: (instance: object) => void) {
      const instance = new wasm.Instance(webpModule(), imports);
      done(instance);
      return instance.exports;
    },
  };
  try {
    const factory = webpDecoderFactory as unknown as (options: object) => Promise<unknown>;
    factory(options).catch(() => undefined); // it resolves to `options`; a failure shows below
  } catch (error) {
    throw webpUnavailable((error as Error).message);
  }
  if (typeof options.decode !== 'function') throw webpUnavailable('the decoder did not initialise');
  webp = options as WebpDecoder;
  return webp;
}

function webpModule(): object {
  const file = createRequire(import.meta.url).resolve('@jsquash/webp/codec/dec/webp_dec.wasm');
  return new wasm.Module(readFileSync(file));
}

function webpUnavailable(reason: string): UserError {
  return new UserError(
    'unavailable',
    `WebP decoding is not available in this build (${reason}): WebP images can be annotated, ` +
      'but convert them to PNG or JPEG to train on them.',
  );
}

function decodeWebp(bytes: Buffer): RgbPixels {
  const image = webpDecoder().decode(bytes);
  if (!image) throw new ImageFileError('WebP image data is damaged (libwebp could not decode it)');
  const rgb = new Uint8Array(image.width * image.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = image.data[j]!;
    rgb[i + 1] = image.data[j + 1]!;
    rgb[i + 2] = image.data[j + 2]!;
  }
  return { width: image.width, height: image.height, rgb };
}

/** A PNG of the image as shown, its longer side at most `maxSide` (never enlarged). */
export function makeThumbnail(bytes: Buffer, maxSide = 160): Buffer {
  const header = readHeader(bytes);
  // A PNG that is already small is its own thumbnail (PNG carries no orientation we apply).
  if (header.format === 'png' && Math.max(header.width, header.height) <= maxSide) return bytes;
  const image = decodeImage(bytes);
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const small = scale === 1 ? image : areaAverage(image, width, height);
  return encodePng(small.width, small.height, small.rgb);
}

/**
 * Downscales by averaging every source pixel an output pixel covers, weighted by how much of it
 * it covers (a box filter at the exact ratio): no aliasing, whatever the ratio. Separable: rows,
 * then columns.
 */
export function areaAverage(image: RgbPixels, width: number, height: number): RgbPixels {
  const across = coverage(image.width, width);
  const down = coverage(image.height, height);
  const rows = new Float32Array(width * image.height * 3);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const { first, weights } = across[x]!;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++)
          sum += weights[k]! * image.rgb[(y * image.width + first + k) * 3 + c]!;
        rows[(y * width + x) * 3 + c] = sum;
      }
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const { first, weights } = down[y]!;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++)
          sum += weights[k]! * rows[((first + k) * width + x) * 3 + c]!;
        rgb[(y * width + x) * 3 + c] = Math.min(255, Math.round(sum));
      }
    }
  }
  return { width, height, rgb };
}

/** For each output index, the source indices it covers and their weights (summing to 1). */
function coverage(source: number, target: number): { first: number; weights: number[] }[] {
  const ratio = source / target;
  return Array.from({ length: target }, (_, i) => {
    const start = i * ratio;
    const end = (i + 1) * ratio;
    const first = Math.floor(start);
    const weights: number[] = [];
    for (let s = first; s < Math.min(source, Math.ceil(end)); s++) {
      weights.push((Math.min(end, s + 1) - Math.max(start, s)) / ratio);
    }
    return { first, weights };
  });
}
