/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. We write F32 and I32 and
 * read F32, F16, BF16 and I32 (what Hugging Face checkpoints hold), always into Float32Array/Int32Array.
 *
 * Files are read by offset, tensor by tensor, never whole: a hub shard of a 2B model is ~4 GB and
 * Node reads at most 2 GiB in one call. Each tensor's bytes land straight in its output array (BF16
 * and F16 in its upper half, then widened in place), so loading holds the float32 weights and
 * nothing else. Sharded checkpoints (an index naming each tensor's shard): shards.ts.
 */
import type { Hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

export interface NamedTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

export type TensorMap = Map<string, NamedTensor>;

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32';

const bytesPer: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };

/** The safetensors library refuses headers over 100 MB; so do we (a corrupt length otherwise allocates GBs). */
const maxHeaderBytes = 100_000_000;

/**
 * A tensor whose values are made only when the writer reaches it: saving a merged 2B model this way
 * holds one tensor's float32 copy at a time, not a second copy of every weight.
 */
export interface PendingTensor {
  shape: number[];
  dtype: 'F32' | 'I32';
  values(): Float32Array | Int32Array;
}

const pendingOf = (t: NamedTensor): PendingTensor => ({
  shape: t.shape,
  dtype: t.data instanceof Int32Array ? 'I32' : 'F32',
  values: () => t.data,
});

/** The file's first bytes (length and JSON header, padded) and the tensors' names in data order. */
function encodeHeader(
  tensors: Map<string, Pick<PendingTensor, 'shape' | 'dtype'>>,
  metadata: Record<string, string>,
): { head: Buffer; names: string[] } {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const size = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the data starts 8-byte aligned
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  return { head, names };
}

const bytesOf = (data: Float32Array | Int32Array) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength);

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Buffer {
  const { head, names } = encodeHeader(new Map([...tensors].map(([n, t]) => [n, pendingOf(t)])), metadata);
  return Buffer.concat([head, ...names.map((name) => bytesOf(tensors.get(name)!.data))]);
}

/**
 * Writes tensor by tensor, never the whole file in one buffer: a merged 2B model is ~9 GB in
 * float32, and a Node buffer holds at most 4 GiB. A pending tensor's values are made when its turn
 * comes, and can be let go once written.
 */
export function writeSafetensors(
  file: string,
  tensors: TensorMap | Map<string, PendingTensor>,
  metadata: Record<string, string> = {},
): void {
  const pending = new Map<string, PendingTensor>(
    [...tensors].map(([name, t]) => [name, 'values' in t ? t : pendingOf(t)]),
  );
  const { head, names } = encodeHeader(pending, metadata);
  const fd = openSync(file, 'w');
  try {
    writeAll(fd, head);
    for (const name of names) {
      const t = pending.get(name)!;
      const data = t.values();
      if (data.length !== t.shape.reduce((a, b) => a * b, 1))
        throw new Error(`${name}: ${data.length} values for shape [${t.shape}]`);
      writeAll(fd, bytesOf(data));
    }
  } finally {
    closeSync(fd);
  }
}

/** writeSync may write less than asked; one call writes at most 2 GiB. */
function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30));
}

// ── half precision → float32 ─────────────────────────────────────────────────────────────────────

let f16Table: Uint32Array | undefined;

/** float32 bits of every float16 value (256 KiB, built once): widening is then one lookup each. */
function f16Bits(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  const f = new Float32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) f[h] = sign * 2 ** -14 * (fraction / 1024);
    else if (exponent === 31) table[h] = fraction ? 0x7fc00000 : h & 0x8000 ? 0xff800000 : 0x7f800000;
    else f[h] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return (f16Table = table);
}

/**
 * Widens the `count` 16-bit values held in the upper half of `out`'s bytes to float32, in place,
 * front to back: element i is read (bytes 2·count + 2i) before element i is written (bytes 4i…4i+3),
 * and no write reaches a value not yet read. BF16 is float32's high half; F16 goes by table.
 */
function widenInPlace(out: Float32Array, dtype: 'BF16' | 'F16'): void {
  const count = out.length;
  const halves = new Uint16Array(out.buffer, out.byteOffset + 2 * count, count);
  const bits = new Uint32Array(out.buffer, out.byteOffset, count);
  if (dtype === 'BF16') for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
  else {
    const table = f16Bits();
    for (let i = 0; i < count; i++) bits[i] = table[halves[i]!]!;
  }
}

/** The output array of a tensor, and the bytes its file data goes into. */
function allocate(
  dtype: SafetensorsDtype,
  count: number,
): { data: Float32Array | Int32Array; target: Uint8Array } {
  const data = dtype === 'I32' ? new Int32Array(count) : new Float32Array(count);
  const width = bytesPer[dtype];
  return { data, target: new Uint8Array(data.buffer, data.byteLength - count * width, count * width) };
}

function finish(data: Float32Array | Int32Array, dtype: SafetensorsDtype): void {
  if (dtype === 'BF16' || dtype === 'F16') widenInPlace(data as Float32Array, dtype);
}

// ── the header ───────────────────────────────────────────────────────────────────────────────────

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** The file's size in bytes. */
  size: number;
  /** Where the data starts: 8 + the header's length. */
  dataStart: number;
  /** The tensors in file order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

type RawHeader = Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown }>;

function parseHeader(file: string, size: number, headerLength: number, json: string): SafetensorsHeader {
  let raw: RawHeader;
  try {
    raw = JSON.parse(json) as RawHeader;
  } catch {
    throw new Error(`${file}: the header is not valid JSON: not a safetensors file, or a damaged one`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${file}: the header is not a JSON object: not a safetensors file`);
  const dataStart = 8 + headerLength;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(raw)) {
    if (name === '__metadata__') {
      metadata = info as unknown as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !(dtype in bytesPer))
      throw new Error(
        `${file}: ${name} has dtype ${String(dtype)}, which vrft cannot read (it reads F32, F16, BF16 and I32)`,
      );
    if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0))
      throw new Error(`${file}: ${name} has no valid shape`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((n) => Number.isSafeInteger(n) && n >= 0) ||
      offsets[1] < offsets[0]
    )
      throw new Error(`${file}: ${name} has no valid data_offsets`);
    const width = bytesPer[dtype as SafetensorsDtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== count * width)
      throw new Error(
        `${file}: ${name} holds ${end - begin} bytes, but ${dtype} [${(shape as number[]).join(', ')}] needs ${count * width}`,
      );
    if (dataStart + end > size)
      throw new Error(
        `${file}: ${name}'s data (bytes ${dataStart + begin}–${dataStart + end}) runs past the end of the file ` +
          `(${size} bytes): the file is truncated (an interrupted download?)`,
      );
    entries.push({
      name,
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      begin: dataStart + begin,
      end: dataStart + end,
    });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++)
    if (entries[i]!.begin < entries[i - 1]!.end)
      throw new Error(`${file}: ${entries[i - 1]!.name} and ${entries[i]!.name} overlap: a damaged file`);
  return { file, size, dataStart, entries, metadata };
}

/** Reads `length` bytes at `position` into `target`, 1 GiB per call at most. */
function readFully(fd: number, file: string, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
    if (n === 0) throw new Error(`${file}: the file ends early at byte ${position + done} (truncated?)`);
    done += n;
  }
}

function headerOf(fd: number, file: string): { header: SafetensorsHeader; bytes: Buffer } {
  const size = fstatSync(fd).size;
  if (size < 8) throw new Error(`${file}: ${size} bytes, too short to be a safetensors file`);
  const prefix = Buffer.alloc(8);
  readFully(fd, file, prefix, 0);
  const headerLength = Number(prefix.readBigUInt64LE(0));
  if (headerLength > size - 8)
    throw new Error(
      `${file}: the header (${headerLength} bytes) runs past the end of the file (${size} bytes): ` +
        'truncated, or not a safetensors file',
    );
  if (headerLength > maxHeaderBytes)
    throw new Error(`${file}: a ${headerLength}-byte header is too large: not a safetensors file`);
  const bytes = Buffer.alloc(8 + headerLength);
  prefix.copy(bytes);
  readFully(fd, file, bytes.subarray(8), 8);
  return { header: parseHeader(file, size, headerLength, bytes.subarray(8).toString('utf8')), bytes };
}

/** A file's header only: its tensors' names, dtypes, shapes and byte ranges. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openSync(file, 'r');
  try {
    return headerOf(fd, file).header;
  } finally {
    closeSync(fd);
  }
}

// ── reading ──────────────────────────────────────────────────────────────────────────────────────

export interface ReadOptions {
  /** Only the tensors this accepts are kept (all are, by default). */
  wanted?: (name: string) => boolean;
  /**
   * Fed every byte of the file, in order, as it is read (a tensor not kept and any gap are read
   * for it too): one pass gives the tensors and the file's digest.
   */
  hash?: Hash;
}

/**
 * Reads a safetensors file tensor by tensor, by offset, each tensor straight into its float32 (or
 * int32) array. `wanted` (a filter, or options) picks tensors by name.
 */
export function readSafetensorsFile(
  file: string,
  options: ReadOptions | ((name: string) => boolean) = {},
): TensorMap {
  return readSafetensorsWithMetadata(file, typeof options === 'function' ? { wanted: options } : options)
    .tensors;
}

function readSafetensorsWithMetadata(
  file: string,
  { wanted, hash }: ReadOptions,
): { tensors: TensorMap; metadata: Record<string, string> } {
  const fd = openSync(file, 'r');
  try {
    const { header, bytes } = headerOf(fd, file);
    hash?.update(bytes);
    // Bytes not kept but hashed (gaps, unwanted tensors) go through one reused buffer.
    let scratch: Buffer | undefined;
    const skip = (from: number, to: number) => {
      if (!hash) return;
      scratch ??= Buffer.allocUnsafe(Math.min(64 << 20, Math.max(to - from, 1)));
      for (let at = from; at < to; at += scratch.length) {
        const piece = scratch.subarray(0, Math.min(scratch.length, to - at));
        readFully(fd, file, piece, at);
        hash.update(piece);
      }
      if (scratch.length < 64 << 20) scratch = undefined; // sized to one piece: not worth keeping
    };
    const tensors: TensorMap = new Map();
    let cursor = header.dataStart;
    for (const entry of header.entries) {
      skip(cursor, entry.begin);
      cursor = entry.end;
      if (wanted && !wanted(entry.name)) {
        skip(entry.begin, entry.end);
        continue;
      }
      const count = (entry.end - entry.begin) / bytesPer[entry.dtype];
      const { data, target } = allocate(entry.dtype, count);
      readFully(fd, file, target, entry.begin);
      hash?.update(target);
      finish(data, entry.dtype);
      tensors.set(entry.name, { shape: entry.shape, data });
    }
    skip(cursor, header.size);
    return { tensors, metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

/** Every tensor of a file, and its `__metadata__`. */
export function readSafetensors(file: string): { tensors: TensorMap; metadata: Record<string, string> } {
  return readSafetensorsWithMetadata(file, {});
}

/** A safetensors file already in memory (small files, tests). */
export function decodeSafetensors(
  buffer: Buffer,
  file = 'safetensors',
): { tensors: TensorMap; metadata: Record<string, string> } {
  if (buffer.length < 8)
    throw new Error(`${file}: ${buffer.length} bytes, too short to be a safetensors file`);
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (headerLength > buffer.length - 8)
    throw new Error(
      `${file}: the header (${headerLength} bytes) runs past the end of the file (${buffer.length} bytes): ` +
        'truncated, or not a safetensors file',
    );
  const json = buffer.subarray(8, 8 + headerLength).toString('utf8');
  const header = parseHeader(file, buffer.length, headerLength, json);
  const tensors: TensorMap = new Map();
  for (const entry of header.entries) {
    const { data, target } = allocate(entry.dtype, (entry.end - entry.begin) / bytesPer[entry.dtype]);
    target.set(buffer.subarray(entry.begin, entry.end));
    finish(data, entry.dtype);
    tensors.set(entry.name, { shape: entry.shape, data });
  }
  return { tensors, metadata: header.metadata };
}
