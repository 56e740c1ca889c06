/**
 * PNG without a dependency: 8-bit RGB out (deterministic bytes: one IDAT, filter 0 on every row, a
 * fixed deflate level, no timestamps); in, every standard PNG (grey, grey + alpha, RGB, RGBA and
 * palette, 1- to 16-bit, Adam7-interlaced or not) read as 8-bit RGB: alpha dropped, 16-bit samples
 * keep their high byte, low bit depths scaled to 0–255.
 */
import { deflateSync, inflateSync } from 'node:zlib';

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const colourTypeRgb = 2;

const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`encodePng: width and height must be positive integers, got ${width}×${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(`encodePng: expected ${width * height * 3} RGB bytes, got ${rgb.length}`);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, colourTypeRgb, 0, 0, 0], 8);
  const stride = width * 3;
  const raw = Buffer.alloc(height * (stride + 1)); // each row: filter byte 0, then the pixels
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

export interface DecodedPng {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlace: number;
}

/** Samples per pixel of each colour type, and the bit depths the PNG specification allows it. */
const colourTypes: Record<number, { channels: number; depths: readonly number[] }> = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16] }, // grey
  2: { channels: 3, depths: [8, 16] }, // RGB
  3: { channels: 1, depths: [1, 2, 4, 8] }, // palette index
  4: { channels: 2, depths: [8, 16] }, // grey + alpha
  6: { channels: 4, depths: [8, 16] }, // RGBA
};

interface PngChunks {
  header: PngHeader;
  idat: Buffer[];
  palette: Buffer | undefined;
}

/**
 * Walks the chunks, checking each one's length and CRC, up to IEND: a truncated or damaged file
 * fails here without inflating anything, which is what probing an image for import needs.
 */
function readChunks(buf: Buffer): PngChunks {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(signature))
    throw new Error('not a PNG file (bad signature)');
  let offset = 8;
  let ihdr: Buffer | undefined;
  let palette: Buffer | undefined;
  const idat: Buffer[] = [];
  for (;;) {
    if (offset + 12 > buf.length) throw new Error('PNG is truncated (no IEND chunk)');
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > buf.length) throw new Error(`PNG is truncated inside its ${type} chunk`);
    const stored = buf.readUInt32BE(end - 4);
    if (crc32(buf.subarray(offset + 4, end - 4)) !== stored)
      throw new Error(`PNG ${type} chunk fails its CRC`);
    const data = buf.subarray(offset + 8, end - 4);
    if (type === 'IHDR') ihdr = data;
    else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    offset = end;
  }
  if (ihdr === undefined || ihdr.length !== 13) throw new Error('PNG has no valid IHDR chunk');
  const header: PngHeader = {
    width: ihdr.readUInt32BE(0),
    height: ihdr.readUInt32BE(4),
    bitDepth: ihdr[8]!,
    colourType: ihdr[9]!,
    interlace: ihdr[12]!,
  };
  const kind = colourTypes[header.colourType];
  if (!kind || !kind.depths.includes(header.bitDepth) || header.interlace > 1) {
    throw new Error(
      `unsupported PNG (bit depth ${header.bitDepth}, colour type ${header.colourType}, ` +
        `interlace ${header.interlace}): not a combination the PNG specification allows`,
    );
  }
  if (header.width === 0 || header.height === 0) throw new Error('PNG has zero width or height');
  if (header.colourType === 3 && (palette === undefined || palette.length % 3 !== 0)) {
    throw new Error('palette PNG has no valid PLTE chunk');
  }
  if (idat.length === 0) throw new Error('PNG has no image data (no IDAT chunk)');
  return { header, idat, palette };
}

/** The header of a structurally sound PNG (every chunk present and its CRC right), not decoded. */
export function checkPng(buf: Buffer): PngHeader {
  return readChunks(buf).header;
}

/** Adam7: each pass's first column and row, and its column and row steps. */
const adam7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export function decodePng(buf: Buffer): DecodedPng {
  const { header, idat, palette } = readChunks(buf);
  const { width, height, bitDepth, colourType, interlace } = header;
  const bitsPerPixel = colourTypes[colourType]!.channels * bitDepth;
  let raw: Buffer;
  // Never inflate past what the declared size needs (twice over for Adam7's per-pass row bytes):
  // a few kilobytes of deflate can claim gigabytes.
  const expected = height * (Math.ceil((width * bitsPerPixel) / 8) + 1);
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected * 2 + 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`PNG image data inflates past the ${width}×${height} pixels its header declares`);
    }
    throw new Error(`PNG image data is corrupt: ${(error as Error).message}`);
  }
  if (interlace === 0 && bitDepth === 8 && (colourType === 2 || colourType === 6)) {
    return { width, height, rgb: rgb8(raw, header) }; // the common case, without per-pixel calls
  }
  const rgb = new Uint8Array(width * height * 3);
  const passes = interlace === 0 ? [[0, 0, 1, 1] as const] : adam7;
  let offset = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const passWidth = Math.ceil((width - x0) / dx);
    const passHeight = Math.ceil((height - y0) / dy);
    if (passWidth <= 0 || passHeight <= 0) continue; // a pass an image this small does not have
    const stride = Math.ceil((passWidth * bitsPerPixel) / 8);
    const size = passHeight * (stride + 1);
    if (raw.length < offset + size) throw new Error('PNG image data is shorter than its size says');
    const rows = unfilter(
      raw.subarray(offset, offset + size),
      passHeight,
      stride,
      Math.ceil(bitsPerPixel / 8),
    );
    offset += size;
    for (let y = 0; y < passHeight; y++) {
      const row = rows.subarray(y * stride, (y + 1) * stride);
      for (let x = 0; x < passWidth; x++) {
        const target = ((y0 + y * dy) * width + x0 + x * dx) * 3;
        writeRgb(rgb, target, row, x, header, palette);
      }
    }
  }
  return { width, height, rgb };
}

function rgb8(raw: Buffer, { width, height, colourType }: PngHeader): Uint8Array {
  const channels = colourType === 6 ? 4 : 3;
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('PNG image data is shorter than its size says');
  const pixels = unfilter(raw, height, stride, channels);
  if (channels === 3) return pixels;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = pixels[j]!;
    rgb[i + 1] = pixels[j + 1]!;
    rgb[i + 2] = pixels[j + 2]!;
  }
  return rgb;
}

/** Sample `i` of a row at any bit depth, scaled to 8 bits (16-bit keeps its high byte). */
function sample(row: Uint8Array, i: number, bitDepth: number, scale: boolean): number {
  if (bitDepth === 8) return row[i]!;
  if (bitDepth === 16) return row[i * 2]!;
  const perByte = 8 / bitDepth;
  const shift = 8 - bitDepth * ((i % perByte) + 1);
  const value = (row[Math.floor(i / perByte)]! >> shift) & ((1 << bitDepth) - 1);
  return scale ? Math.round((value * 255) / ((1 << bitDepth) - 1)) : value;
}

function writeRgb(
  rgb: Uint8Array,
  target: number,
  row: Uint8Array,
  x: number,
  header: PngHeader,
  palette: Buffer | undefined,
): void {
  const { colourType, bitDepth } = header;
  const channels = colourTypes[colourType]!.channels;
  if (colourType === 3) {
    const index = sample(row, x, bitDepth, false);
    if (index * 3 + 2 >= palette!.length)
      throw new Error(`PNG pixel uses palette entry ${index}, past its end`);
    rgb[target] = palette![index * 3]!;
    rgb[target + 1] = palette![index * 3 + 1]!;
    rgb[target + 2] = palette![index * 3 + 2]!;
  } else if (colourType === 0 || colourType === 4) {
    const grey = sample(row, x * channels, bitDepth, true);
    rgb[target] = grey;
    rgb[target + 1] = grey;
    rgb[target + 2] = grey;
  } else {
    rgb[target] = sample(row, x * channels, bitDepth, true);
    rgb[target + 1] = sample(row, x * channels + 1, bitDepth, true);
    rgb[target + 2] = sample(row, x * channels + 2, bitDepth, true);
  }
}

/** Undoes the per-row filters (None, Sub, Up, Average, Paeth) in place of a fresh buffer. */
function unfilter(raw: Buffer, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const value = raw[src + x]!;
      const left = x >= bpp ? out[row + x - bpp]! : 0;
      const up = y > 0 ? out[prev + x]! : 0;
      const upLeft = y > 0 && x >= bpp ? out[prev + x - bpp]! : 0;
      let predicted: number;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = left;
          break;
        case 2:
          predicted = up;
          break;
        case 3:
          predicted = (left + up) >>> 1;
          break;
        case 4:
          predicted = paeth(left, up, upLeft);
          break;
        default:
          throw new Error(`PNG row ${y} has an unknown filter type ${filter}`);
      }
      out[row + x] = (value + predicted) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
