/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. We write F32 and I32 and
 * read F32, F16, BF16 and I32 (what Hugging Face checkpoints hold), always into Float32Array/Int32Array.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';

export interface NamedTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

export type TensorMap = Map<string, NamedTensor>;

const bytesPer: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const size = t.data.length * 4;
    header[name] = {
      dtype: t.data instanceof Int32Array ? 'I32' : 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + size],
    };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the data starts 8-byte aligned
  const out = Buffer.alloc(8 + Buffer.byteLength(json) + offset);
  out.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  out.write(json, 8);
  let at = 8 + Buffer.byteLength(json);
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    bytes.copy(out, at);
    at += bytes.length;
  }
  return out;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** BF16 or F16 bytes (little-endian) → float32: BF16 is float32's high half. */
function halfToF32(bytes: Uint8Array, dtype: 'BF16' | 'F16'): Float32Array {
  const count = bytes.length / 2;
  const halves = new Uint16Array(count);
  new Uint8Array(halves.buffer).set(bytes);
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
  } else for (let i = 0; i < count; i++) out[i] = f16ToF32(halves[i]!);
  return out;
}

export function decodeSafetensors(
  buffer: Buffer,
  file = 'safetensors',
): { tensors: TensorMap; metadata: Record<string, string> } {
  if (buffer.length < 8) throw new Error(`${file}: too short to be a safetensors file`);
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (headerLength > buffer.length - 8) throw new Error(`${file}: the header runs past the end of the file`);
  const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as unknown as Record<string, string>;
      continue;
    }
    const [begin, end] = info.data_offsets;
    const width = bytesPer[info.dtype];
    if (!width) throw new Error(`${file}: ${name} has dtype ${info.dtype}, which vrft cannot read`);
    const count = (end - begin) / width;
    if (count !== info.shape.reduce((a, b) => a * b, 1))
      throw new Error(`${file}: ${name}'s size does not match its shape`);
    const bytes = buffer.subarray(base + begin, base + end);
    let data: Float32Array | Int32Array;
    if (info.dtype === 'F32' || info.dtype === 'I32') {
      const copy = new ArrayBuffer(bytes.length);
      new Uint8Array(copy).set(bytes);
      data = info.dtype === 'F32' ? new Float32Array(copy) : new Int32Array(copy);
    } else {
      data = halfToF32(bytes, info.dtype as 'BF16' | 'F16');
    }
    tensors.set(name, { shape: info.shape, data });
  }
  return { tensors, metadata };
}

export function writeSafetensors(file: string, tensors: TensorMap, metadata?: Record<string, string>): void {
  writeFileSync(file, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(file: string) {
  return decodeSafetensors(readFileSync(file), file);
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

/**
 * Reads a safetensors file tensor by tensor, by offset: never the whole file at once (a hub shard
 * of a 2B model is ~4 GB; Node reads at most 2 GiB in one go), and each tensor straight into its
 * float32 array. `wanted` filters by name.
 */
export function readSafetensorsFile(file: string, wanted?: (name: string) => boolean): TensorMap {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (length: number, position: number): Buffer => {
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buffer, done, Math.min(length - done, 1 << 30), position + done);
        if (n === 0) throw new Error(`${file}: the file ends early (truncated download?)`);
        done += n;
      }
      return buffer;
    };
    if (size < 8) throw new Error(`${file}: too short to be a safetensors file`);
    const headerLength = Number(read(8, 0).readBigUInt64LE(0));
    if (headerLength > size - 8) throw new Error(`${file}: the header runs past the end of the file`);
    let header: Header;
    try {
      header = JSON.parse(read(headerLength, 8).toString('utf8')) as Header;
    } catch {
      throw new Error(`${file}: the header is not valid JSON: not a safetensors file`);
    }
    const base = 8 + headerLength;
    const tensors: TensorMap = new Map();
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__' || (wanted && !wanted(name))) continue;
      const [begin, end] = info.data_offsets;
      const width = bytesPer[info.dtype];
      if (!width) throw new Error(`${file}: ${name} has dtype ${info.dtype}, which vrft cannot read`);
      const count = (end - begin) / width;
      if (count !== info.shape.reduce((a, b) => a * b, 1))
        throw new Error(`${file}: ${name}'s size does not match its shape`);
      if (base + end > size) throw new Error(`${file}: ${name} runs past the end of the file (truncated?)`);
      const bytes = read(end - begin, base + begin);
      let data: Float32Array | Int32Array;
      if (info.dtype === 'F32' || info.dtype === 'I32') {
        const copy = new ArrayBuffer(bytes.length);
        new Uint8Array(copy).set(bytes);
        data = info.dtype === 'F32' ? new Float32Array(copy) : new Int32Array(copy);
      } else data = halfToF32(bytes, info.dtype as 'BF16' | 'F16');
      tensors.set(name, { shape: info.shape, data });
    }
    return tensors;
  } finally {
    closeSync(fd);
  }
}
