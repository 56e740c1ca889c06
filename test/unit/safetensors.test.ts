/**
 * safetensors files read by offset: F32 / I32 / BF16 / F16 into float32 (int32), a name filter,
 * the file's sha256 in the same pass, shards through model.safetensors.index.json, errors that name
 * the file and the fault, and a file past 2 GiB (sparse: no disk) read without ever reading it whole.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsFile,
  readSafetensorsHeader,
  writeSafetensors,
  type TensorMap,
} from '../../src/main/models/safetensors';
import { readShardedSafetensors, readShardIndex } from '../../src/main/models/shards';

// Every readFileSync goes through a spy, so a test can show the weights were never read whole.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof fs>();
  return { ...actual, readFileSync: vi.fn(actual.readFileSync) };
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-safetensors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

/** A safetensors file from raw tensors (any dtype), laid out in order, with optional gaps. */
function rawSafetensors(tensors: Record<string, RawTensor>, options: { gap?: number } = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (options.gap) {
      parts.push(Buffer.alloc(options.gap, 0xab));
      offset += options.gap;
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    parts.push(t.bytes);
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...parts]);
}

const u16 = (values: number[]) => {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
};

const file = (name: string, bytes: Buffer) => {
  const f = path.join(dir, name);
  writeFileSync(f, bytes);
  return f;
};

const sha = (...buffers: Buffer[]) => {
  const h = createHash('sha256');
  for (const b of buffers) h.update(b);
  return h.digest('hex');
};

describe('reading tensors', () => {
  const tensors: TensorMap = new Map([
    ['a.weight', { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-30, -0, 7]) }],
    ['b.ids', { shape: [4], data: new Int32Array([0, -1, 2 ** 31 - 1, 42]) }],
    ['c.bias', { shape: [1], data: new Float32Array([Math.PI]) }],
  ]);

  it('F32 and I32 round-trip through the writer, by offset and from memory alike', () => {
    const f = path.join(dir, 'roundtrip.safetensors');
    writeSafetensors(f, tensors, { note: 'hi' });
    const byOffset = readSafetensorsFile(f);
    const whole = readSafetensors(f);
    const decoded = decodeSafetensors(encodeSafetensors(tensors));
    for (const read of [byOffset, whole.tensors, decoded.tensors]) {
      expect([...read.keys()].sort()).toEqual([...tensors.keys()].sort());
      for (const [name, t] of tensors) {
        expect(read.get(name)!.shape).toEqual(t.shape);
        expect(read.get(name)!.data).toEqual(t.data);
        expect(read.get(name)!.data.constructor).toBe(t.data.constructor);
      }
    }
    expect(whole.metadata).toEqual({ note: 'hi' });
  });

  it('BF16 widens to float32 exactly (the high half)', () => {
    // All exact in BF16 (2^-133 is its smallest subnormal).
    const values = [1, -2.5, 0.15625, 3.140625, -0, 65280, 2 ** -126, 2 ** -133, Infinity, -Infinity];
    const halves = values.map((v) => new Uint32Array(new Float32Array([v]).buffer)[0]! >>> 16);
    const bytes = rawSafetensors({ x: { dtype: 'BF16', shape: [values.length], bytes: u16(halves) } });
    for (const read of [
      readSafetensorsFile(file('bf16.safetensors', bytes)),
      decodeSafetensors(bytes).tensors,
    ]) {
      const data = read.get('x')!.data;
      expect(data).toBeInstanceOf(Float32Array);
      expect([...data]).toEqual(values);
      expect(Object.is(data[4], -0)).toBe(true);
    }
  });

  it('F16 decodes normals, subnormals, signed zero, infinities and NaN', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x3555, 0.333251953125],
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, Number.NaN],
    ];
    const bytes = rawSafetensors({
      x: { dtype: 'F16', shape: [cases.length], bytes: u16(cases.map(([h]) => h)) },
    });
    const data = readSafetensorsFile(file('f16.safetensors', bytes)).get('x')!.data;
    cases.forEach(([, want], i) => expect(Object.is(data[i], want), `case ${i}`).toBe(true));
  });

  it('keeps only the tensors a filter wants', () => {
    const f = path.join(dir, 'filter.safetensors');
    writeSafetensors(f, tensors);
    const read = readSafetensorsFile(f, (name) => name.endsWith('.weight'));
    expect([...read.keys()]).toEqual(['a.weight']);
    expect(readSafetensorsFile(f, { wanted: (name) => name === 'b.ids' }).get('b.ids')!.data).toEqual(
      tensors.get('b.ids')!.data,
    );
  });

  it('digests the whole file in the same pass: header, every tensor kept or not, and gaps', () => {
    const bytes = rawSafetensors(
      {
        x: { dtype: 'BF16', shape: [3], bytes: u16([0x3f80, 0x4000, 0xc040]) },
        y: { dtype: 'F32', shape: [2], bytes: Buffer.from(new Float32Array([5, 6]).buffer) },
      },
      { gap: 5 },
    );
    const f = file('gaps.safetensors', bytes);
    for (const wanted of [undefined, (n: string) => n === 'y', () => false]) {
      const hash = createHash('sha256');
      const read = readSafetensorsFile(f, { hash, wanted });
      expect(hash.digest('hex')).toBe(sha(bytes));
      if (!wanted) expect([...read.get('x')!.data]).toEqual([1, 2, -3]);
    }
  });

  it('the header alone gives names, dtypes, shapes and absolute byte ranges in file order', () => {
    const bytes = rawSafetensors({
      b: { dtype: 'F16', shape: [2], bytes: u16([0, 0]) },
      a: { dtype: 'I32', shape: [1, 1], bytes: Buffer.alloc(4) },
    });
    const header = readSafetensorsHeader(file('header.safetensors', bytes));
    const start = 8 + bytes.readUInt32LE(0);
    expect(header.dataStart).toBe(start);
    expect(header.entries).toEqual([
      { name: 'b', dtype: 'F16', shape: [2], begin: start, end: start + 4 },
      { name: 'a', dtype: 'I32', shape: [1, 1], begin: start + 4, end: start + 8 },
    ]);
    expect(header.metadata).toEqual({ format: 'pt' });
  });
});

describe('errors name the file and the fault', () => {
  const good = rawSafetensors({
    x: { dtype: 'F32', shape: [4], bytes: Buffer.from(new Float32Array([1, 2, 3, 4]).buffer) },
  });

  it('a truncated file', () => {
    const f = file('truncated.safetensors', good.subarray(0, good.length - 3));
    expect(() => readSafetensorsFile(f)).toThrow(
      new RegExp(`^${f}: x's data .* runs past the end of the file .*truncated`),
    );
  });

  it('a header running past the end, a file too short, a header that is not JSON', () => {
    const f = file('header-past-end.safetensors', good.subarray(0, 40));
    expect(() => readSafetensorsFile(f)).toThrow(`${f}: the header (`);
    expect(() => readSafetensorsFile(f)).toThrow(/runs past the end of the file \(40 bytes\)/);
    const short = file('short.safetensors', Buffer.from([1, 2, 3]));
    expect(() => readSafetensorsFile(short)).toThrow(`${short}: 3 bytes, too short to be a safetensors file`);
    const notJson = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')]);
    const bad = file('notjson.safetensors', notJson);
    expect(() => readSafetensorsFile(bad)).toThrow(`${bad}: the header is not valid JSON`);
  });

  it('an unknown dtype, and bytes that do not match the shape', () => {
    const f64 = rawSafetensors({ x: { dtype: 'F64', shape: [1], bytes: Buffer.alloc(8) } });
    const f = file('f64.safetensors', f64);
    expect(() => readSafetensorsFile(f)).toThrow(
      `${f}: x has dtype F64, which vrft cannot read (it reads F32, F16, BF16 and I32)`,
    );
    const mismatch = rawSafetensors({ x: { dtype: 'F32', shape: [3], bytes: Buffer.alloc(8) } });
    const g = file('mismatch.safetensors', mismatch);
    expect(() => readSafetensorsFile(g)).toThrow(`${g}: x holds 8 bytes, but F32 [3] needs 12`);
  });
});

describe('shards', () => {
  const shardDir = () => {
    const d = mkdtempSync(path.join(dir, 'shards-'));
    writeSafetensors(
      path.join(d, 'model-00001-of-00002.safetensors'),
      new Map([
        ['a', { shape: [2], data: new Float32Array([1, 2]) }],
        ['b', { shape: [1], data: new Float32Array([3]) }],
      ]),
    );
    writeSafetensors(
      path.join(d, 'model-00002-of-00002.safetensors'),
      new Map([['c', { shape: [1], data: new Float32Array([4]) }]]),
    );
    const index = {
      metadata: { total_size: 16 },
      weight_map: {
        a: 'model-00001-of-00002.safetensors',
        b: 'model-00001-of-00002.safetensors',
        c: 'model-00002-of-00002.safetensors',
      },
    };
    writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify(index));
    return { d, index, indexFile: path.join(d, 'model.safetensors.index.json') };
  };

  it('reads every shard the index names, in name order, digesting them one after the other', () => {
    const { d, indexFile } = shardDir();
    expect(readShardIndex(indexFile).shards).toEqual([
      path.join(d, 'model-00001-of-00002.safetensors'),
      path.join(d, 'model-00002-of-00002.safetensors'),
    ]);
    const hash = createHash('sha256');
    const read = readShardedSafetensors(indexFile, { hash });
    expect(Object.fromEntries([...read].map(([n, t]) => [n, [...t.data]]))).toEqual({
      a: [1, 2],
      b: [3],
      c: [4],
    });
    const files = readShardIndex(indexFile).shards.map((f) => fs.readFileSync(f));
    expect(hash.digest('hex')).toBe(sha(...files));
  });

  it('a missing shard, a tensor not where the index says, no weight_map', () => {
    const { d, index, indexFile } = shardDir();
    rmSync(path.join(d, 'model-00002-of-00002.safetensors'));
    expect(() => readShardedSafetensors(indexFile)).toThrow(
      `${indexFile} names model-00002-of-00002.safetensors, which is not in ${d} (an interrupted download?)`,
    );
    const moved = shardDir();
    writeFileSync(
      moved.indexFile,
      JSON.stringify({ weight_map: { ...index.weight_map, a: 'model-00002-of-00002.safetensors' } }),
    );
    expect(() => readShardedSafetensors(moved.indexFile)).toThrow(
      `${moved.indexFile}: a should be in model-00002-of-00002.safetensors, but model-00002-of-00002.safetensors ` +
        'has no such tensor (it is in model-00001-of-00002.safetensors)',
    );
    writeFileSync(moved.indexFile, JSON.stringify({ metadata: {} }));
    expect(() => readShardedSafetensors(moved.indexFile)).toThrow(`${moved.indexFile}: has no weight_map`);
    writeFileSync(moved.indexFile, JSON.stringify({ weight_map: { a: '../elsewhere.safetensors' } }));
    expect(() => readShardedSafetensors(moved.indexFile)).toThrow(/is not a file name in this folder/);
  });

  it('a tensor in two shards', () => {
    const { d, indexFile } = shardDir();
    writeSafetensors(
      path.join(d, 'model-00002-of-00002.safetensors'),
      new Map([
        ['a', { shape: [1], data: new Float32Array([9]) }],
        ['c', { shape: [1], data: new Float32Array([4]) }],
      ]),
    );
    expect(() => readShardedSafetensors(indexFile)).toThrow(
      `${path.join(d, 'model-00002-of-00002.safetensors')}: a is in model-00001-of-00002.safetensors too`,
    );
  });
});

describe('a file past 2 GiB', () => {
  it('is read by offset (a sparse file: a tensor at its start, one 2.25 GiB in), never whole', () => {
    const size = 2.25 * 2 ** 30;
    const tail = new Float32Array([1.5, -2.5, 3.25, 1e9]);
    const head = u16([0x3f80, 0xbf80]); // BF16 1, -1
    const dataBytes = size - 1024; // the header is padded to leave the data at 1024
    const header: Record<string, unknown> = {
      head: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] },
      tail: { dtype: 'F32', shape: [4], data_offsets: [dataBytes - 16, dataBytes] },
    };
    const json = Buffer.from(JSON.stringify(header).padEnd(1024 - 8, ' '));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const f = path.join(dir, 'huge.safetensors');
    const fd = fs.openSync(f, 'w');
    try {
      fs.ftruncateSync(fd, size);
      fs.writeSync(fd, Buffer.concat([prefix, json, head]), 0, 1024 + 4, 0);
      fs.writeSync(fd, Buffer.from(tail.buffer), 0, 16, size - 16);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.statSync(f).size).toBe(size);
    vi.mocked(fs.readFileSync).mockClear();
    const read = readSafetensorsFile(f);
    expect([...read.get('head')!.data]).toEqual([1, -1]);
    expect(read.get('tail')!.data).toEqual(tail);
    expect(readSafetensors(f).tensors.get('tail')!.data).toEqual(tail);
    expect(readSafetensorsHeader(f).entries.at(-1)!.end).toBe(size);
    expect(vi.mocked(fs.readFileSync).mock.calls.filter(([p]) => p === f)).toEqual([]);
    rmSync(f);
  });
});

describe('pending tensors', () => {
  it('are made one at a time, in file order, and written as the same bytes as made ones', () => {
    const made: string[] = [];
    const values = {
      b: Float32Array.from([1, 2, 3, 4, 5, 6]),
      a: Int32Array.from([7, -8]),
    };
    const pending = new Map(
      (['b', 'a'] as const).map((name) => [
        name,
        {
          shape: name === 'b' ? [2, 3] : [2],
          dtype: name === 'b' ? ('F32' as const) : ('I32' as const),
          values: () => {
            made.push(name);
            return values[name];
          },
        },
      ]),
    );
    const lazy = path.join(dir, 'pending.safetensors');
    writeSafetensors(lazy, pending, { format: 'pt' });
    expect(made).toEqual(['a', 'b']);
    const whole: TensorMap = new Map([
      ['b', { shape: [2, 3], data: values.b }],
      ['a', { shape: [2], data: values.a }],
    ]);
    expect(fs.readFileSync(lazy)).toEqual(encodeSafetensors(whole, { format: 'pt' }));
  });

  it('refuse values that do not fill their shape', () => {
    const pending = new Map([
      ['w', { shape: [2, 2], dtype: 'F32' as const, values: () => new Float32Array(3) }],
    ]);
    expect(() => writeSafetensors(path.join(dir, 'short.safetensors'), pending)).toThrow(
      'w: 3 values for shape [2,2]',
    );
  });
});
