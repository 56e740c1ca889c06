import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../../src/main/data/png';
import {
  baseCategories,
  colors,
  drawnThreshold,
  generateScene,
  generateSceneLayers,
  makeClassificationTask,
  makeDetectionTask,
  makeRecTask,
  novelCategories,
  parseExpression,
  positionPhrases,
  resolveExpression,
  sampleTask,
  shapeCategories,
  shapeNames,
  textures,
  type Scene,
  type SceneObject,
  type TaskKind,
} from '../../src/main/data/shapeworld/index';
import { seeded } from '../support/random';
import { pngChunk } from '../support/imageFiles';

const seeds = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);

/** A PNG the way other encoders write one: any colour type and bit depth, a filter per row. */
function pngWith(opts: {
  width: number;
  height: number;
  channels: 3 | 4;
  pixels: Uint8Array;
  filters: number[];
  bitDepth?: number;
  colourType?: number;
  interlace?: number;
}): Buffer {
  const { width, height, channels, pixels, filters } = opts;
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const filter = filters[y % filters.length]!;
    raw[y * (stride + 1)] = filter;
    for (let x = 0; x < stride; x++) {
      const at = (yy: number, xx: number) => (yy < 0 || xx < 0 ? 0 : pixels[yy * stride + xx]!);
      const a = at(y, x - channels);
      const b = at(y - 1, x);
      const c = at(y - 1, x - channels);
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][filter]!;
      raw[y * (stride + 1) + 1 + x] = (pixels[y * stride + x]! - predicted) & 0xff;
    }
  }
  const chunk = pngChunk;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([opts.bitDepth ?? 8, opts.colourType ?? (channels === 4 ? 6 : 2), 0, 0, opts.interlace ?? 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = seeded(seed);
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

describe('PNG', () => {
  it('round-trips RGB and encodes the same bytes every time', () => {
    const rgb = randomBytes(37 * 23 * 3, 1);
    const png = encodePng(37, 23, rgb);
    expect(png.equals(encodePng(37, 23, rgb))).toBe(true);
    const decoded = decodePng(png);
    expect([decoded.width, decoded.height]).toEqual([37, 23]);
    expect(Buffer.from(decoded.rgb).equals(Buffer.from(rgb))).toBe(true);
  });

  it('decodes all five row filters, RGB and RGBA (alpha dropped)', () => {
    const [width, height] = [9, 10];
    for (const channels of [3, 4] as const) {
      const pixels = randomBytes(width * height * channels, channels);
      const decoded = decodePng(pngWith({ width, height, channels, pixels, filters: [0, 1, 2, 3, 4] }));
      const expected = Uint8Array.from({ length: width * height * 3 }, (_, i) => {
        const pixel = Math.floor(i / 3);
        return pixels[pixel * channels + (i % 3)]!;
      });
      expect(Buffer.from(decoded.rgb).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('refuses what it cannot read with a clear error', () => {
    const base = { width: 2, height: 2, channels: 3 as const, pixels: new Uint8Array(12), filters: [0] };
    expect(() => decodePng(Buffer.from('GIF89a not a png'))).toThrow(/not a PNG/);
    expect(() => decodePng(pngWith({ ...base, bitDepth: 16, colourType: 3 }))).toThrow(
      /bit depth 16, colour type 3.*not a combination the PNG specification allows/,
    );
    expect(() => decodePng(pngWith({ ...base, colourType: 3 }))).toThrow(/palette PNG has no valid PLTE/);
    expect(() => decodePng(pngWith({ ...base, interlace: 2 }))).toThrow(/interlace 2/);
    const corrupt = encodePng(2, 2, new Uint8Array(12));
    corrupt[corrupt.length - 20] = corrupt[corrupt.length - 20]! ^ 0xff;
    expect(() => decodePng(corrupt)).toThrow(/CRC|corrupt/);
    expect(() => decodePng(encodePng(4, 4, new Uint8Array(48)).subarray(0, 40))).toThrow(/truncated/);
  });
});

describe('ShapeWorld vocabulary', () => {
  it('has 7 base and 5 novel shapes, hexagon novel beside base pentagon and heptagon', () => {
    expect(baseCategories).toEqual(['circle', 'square', 'triangle', 'pentagon', 'heptagon', 'star', 'cross']);
    expect(novelCategories).toEqual(['hexagon', 'diamond', 'heart', 'ring', 'arrow']);
    const family = (name: string) => shapeCategories.find((c) => c.name === name)?.family;
    expect(family('hexagon')).toBeDefined();
    expect(family('hexagon')).toBe(family('pentagon'));
    expect(family('hexagon')).toBe(family('heptagon'));
  });
});

describe('generateScene', () => {
  it('is a pure function of the seed', () => {
    for (const seed of seeds(10)) {
      const a = generateScene(seed, { shapes: shapeNames });
      const b = generateScene(seed, { shapes: shapeNames });
      expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
      expect(a.objects).toEqual(b.objects);
      expect(a.description).toBe(b.description);
      const c = generateScene(seed + 1000, { shapes: shapeNames });
      expect(Buffer.from(a.rgb).equals(Buffer.from(c.rgb))).toBe(false);
      expect(c.objects).not.toEqual(a.objects);
    }
  });

  it('draws what it is asked for: sizes, counts, shapes', () => {
    for (const seed of seeds(40)) {
      const s = generateScene(seed, {
        width: 96,
        height: 80,
        shapes: ['star', 'ring'],
        minObjects: 2,
        maxObjects: 3,
      });
      expect(s.rgb.length).toBe(96 * 80 * 3);
      expect(s.objects.length).toBeGreaterThanOrEqual(2);
      expect(s.objects.length).toBeLessThanOrEqual(3);
      for (const o of s.objects) expect(['star', 'ring']).toContain(o.shape);
    }
    expect(() => generateScene(1, { shapes: ['blob'] })).toThrow(/unknown ShapeWorld shape "blob"/);
  });

  it.each([128, 64])(
    'gives each object a tight, non-degenerate box inside the %i-pixel image, at least 12 percent of its side',
    (side) => {
      for (const seed of seeds(150)) {
        const { scene, layers } = generateSceneLayers(seed, {
          width: side,
          height: side,
          shapes: shapeNames,
        });
        scene.objects.forEach((o, i) => {
          const { x1, y1, x2, y2 } = o.box;
          for (const v of [x1, y1, x2, y2]) expect(Number.isInteger(v)).toBe(true);
          expect(x1).toBeGreaterThanOrEqual(0);
          expect(y1).toBeGreaterThanOrEqual(0);
          expect(x2).toBeLessThanOrEqual(side);
          expect(y2).toBeLessThanOrEqual(side);
          expect(x2).toBeGreaterThan(x1);
          expect(y2).toBeGreaterThan(y1);
          expect(Math.max(x2 - x1, y2 - y1)).toBeGreaterThanOrEqual(0.12 * side);
          // Every drawn pixel inside the box, and drawn pixels on all four of its edges.
          const layer = layers[i]!;
          const edges = { left: false, right: false, top: false, bottom: false };
          let outside = 0;
          for (let row = 0; row < layer.height; row++) {
            for (let col = 0; col < layer.width; col++) {
              if (layer.visible[row * layer.width + col]! < drawnThreshold) continue;
              const [x, y] = [layer.x0 + col, layer.y0 + row];
              if (!(x >= x1 && x < x2 && y >= y1 && y < y2)) outside++;
              edges.left ||= x === x1;
              edges.right ||= x === x2 - 1;
              edges.top ||= y === y1;
              edges.bottom ||= y === y2 - 1;
            }
          }
          expect(outside).toBe(0);
          expect(edges).toEqual({ left: true, right: true, top: true, bottom: true });
        });
      }
    },
  );

  it('lets objects overlap but keeps at least 70% of each visible', () => {
    let overlapping = 0;
    for (const seed of seeds(200)) {
      const { layers } = generateSceneLayers(seed, { minObjects: 3, maxObjects: 5 });
      for (const layer of layers) {
        const total = layer.coverage.reduce((a, b) => a + b, 0);
        const visible = layer.visible.reduce((a, b) => a + b, 0);
        expect(visible / total).toBeGreaterThanOrEqual(0.7);
        if (visible < total * 0.99) overlapping++;
      }
    }
    expect(overlapping).toBeGreaterThan(20);
  });

  it('keeps shapes whose name depends on their pose near upright', () => {
    const limits: Record<string, number> = {
      square: 20,
      diamond: 20,
      cross: 20,
      triangle: 30,
      heart: 20,
      circle: 0,
      ring: 0,
    };
    for (const seed of seeds(150)) {
      for (const o of generateScene(seed, { shapes: shapeNames }).objects) {
        if (o.shape in limits) expect(Math.abs(o.rotation)).toBeLessThanOrEqual(limits[o.shape]!);
      }
    }
  });

  it('paints each object in its colour where it is drawn', () => {
    // Solid objects: the pixels fully drawn for them carry their colour (no texture, no edge blend).
    const rgbOf: Record<string, number[]> = {};
    for (const seed of seeds(60)) {
      const { scene, layers } = generateSceneLayers(seed, { shapes: shapeNames });
      scene.objects.forEach((o, i) => {
        if (o.texture !== 'solid') return;
        const layer = layers[i]!;
        const index = layer.visible.findIndex((v) => v === 1);
        const p =
          ((layer.y0 + Math.floor(index / layer.width)) * scene.width + layer.x0 + (index % layer.width)) * 3;
        const rgb = [...scene.rgb.subarray(p, p + 3)];
        if (rgbOf[o.color]) expect(rgb).toEqual(rgbOf[o.color]);
        rgbOf[o.color] = rgb;
      });
    }
    expect(Object.keys(rgbOf).length).toBeGreaterThanOrEqual(6);
  });

  it('describes every object: size, texture (unless solid), colour, shape and grid position', () => {
    for (const seed of seeds(60)) {
      const s = generateScene(seed, { shapes: shapeNames });
      const sentences = s.description.split('. ');
      expect(sentences[0]).toBe(
        s.objects.length === 1 ? 'There is 1 shape' : `There are ${s.objects.length} shapes`,
      );
      expect(sentences.length).toBe(s.objects.length + 1);
      s.objects.forEach((o, i) => {
        const cx = (o.box.x1 + o.box.x2) / 2;
        const cy = (o.box.y1 + o.box.y2) / 2;
        const position =
          positionPhrases[
            Math.min(2, Math.floor((3 * cy) / s.height)) * 3 + Math.min(2, Math.floor((3 * cx) / s.width))
          ];
        const words = [o.size, ...(o.texture === 'solid' ? [] : [o.texture]), o.color, o.shape].join(' ');
        expect(sentences[i + 1]!.replace(/\.$/, '')).toBe(`A ${words} ${position}`);
      });
    }
  });

  it('uses all shapes, colours and textures, and both plain and textured objects', () => {
    const seen = { shape: new Set<string>(), color: new Set<string>(), texture: new Set<string>() };
    for (const seed of seeds(80)) {
      for (const o of generateScene(seed, { shapes: shapeNames }).objects) {
        seen.shape.add(o.shape);
        seen.color.add(o.color);
        seen.texture.add(o.texture);
      }
    }
    expect([...seen.shape].sort()).toEqual([...shapeNames].sort());
    expect([...seen.color].sort()).toEqual([...colors].sort());
    expect([...seen.texture].sort()).toEqual([...textures].sort());
  });
});

/** The attributes an attribute-only expression names, read by the test itself. */
function namedAttributes(expression: string): Partial<SceneObject> | undefined {
  const words = expression.split(' ');
  if (words[0] !== 'the' || words.length < 2) return undefined;
  const named: Record<string, string> = {};
  for (const word of words.slice(1)) {
    if (shapeNames.includes(word)) named.shape = word;
    else if ((colors as readonly string[]).includes(word)) named.color = word;
    else if ((textures as readonly string[]).includes(word)) named.texture = word;
    else if (['small', 'medium', 'large'].includes(word)) named.size = word;
    else if (word !== 'shape') return undefined;
  }
  return named as Partial<SceneObject>;
}

describe('tasks', () => {
  it('classification scenes hold one object, labelled by its shape (its COCO category)', () => {
    for (const seed of seeds(40)) {
      const { scene, task } = sampleTask('classification', seed, { split: 'all' });
      expect(scene.objects.length).toBe(1);
      const [o] = scene.objects as [SceneObject];
      expect(task).toEqual({
        kind: 'classification',
        label: o.shape,
        synonyms: [`${o.texture} ${o.shape}`],
      });
    }
    expect(() => makeClassificationTask(generateScene(3, { minObjects: 2 }))).toThrow(/one-object scene/);
  });

  it('referring expressions denote exactly one object, in every phrasing', () => {
    const patterns = new Set<string>();
    for (const seed of seeds(200)) {
      const { scene, task } = sampleTask('rec', seed, { split: 'all' });
      if (task.kind !== 'rec') throw new Error('expected a rec task');
      const found = resolveExpression(scene, task.expression);
      expect(found.length, task.expression).toBe(1);
      expect(scene.objects[found[0]!]!.box).toEqual(task.box);
      const ref = parseExpression(task.expression)!;
      patterns.add(ref.kind);
      const named = namedAttributes(task.expression);
      if (ref.kind === 'attributes' && named) {
        const hits = scene.objects.filter((o) =>
          Object.entries(named).every(([k, v]) => o[k as keyof SceneObject] === v),
        );
        expect(hits, task.expression).toEqual([scene.objects[found[0]!]]);
      }
    }
    expect([...patterns].sort()).toEqual(['attributes', 'relation', 'superlative']);
  });

  it('reads near-ties as ambiguous, so "unique" holds for a reader', () => {
    const twin = (x: number, w: number): SceneObject => ({
      shape: 'circle',
      color: 'red',
      texture: 'solid',
      size: 'large',
      box: { x1: x, y1: 40, x2: x + w, y2: 40 + w },
      rotation: 0,
    });
    const scene: Scene = {
      width: 128,
      height: 128,
      rgb: new Uint8Array(128 * 128 * 3),
      objects: [twin(4, 40), twin(60, 38)],
      description: '',
    };
    expect(resolveExpression(scene, 'the largest red circle')).toEqual([0, 1]);
    expect(resolveExpression(scene, 'the leftmost circle')).toEqual([0]);
    expect(resolveExpression(scene, 'the shape right of the red circle')).toEqual([]);
    expect(
      resolveExpression(
        { ...scene, objects: [twin(4, 40), { ...twin(60, 38), color: 'blue' }] },
        'the shape left of the blue circle',
      ),
    ).toEqual([0]);
    expect(resolveExpression(scene, 'the red large circle')).toEqual([]);
    expect(makeRecTask({ ...scene, objects: [twin(4, 40), twin(44, 40)] }, 1)).toEqual({
      kind: 'rec',
      expression: expect.stringMatching(/^the (leftmost|rightmost) (red )?(circle|shape)$/),
      box: expect.any(Object),
    });
  });

  it('detection asks for absent categories sometimes, with no boxes', () => {
    let negatives = 0;
    for (const seed of seeds(120)) {
      const scene = generateScene(seed);
      const task = makeDetectionTask(scene, seed, { negativeRate: 0.3 });
      const present = scene.objects.filter((o) => o.shape === task.category);
      expect(baseCategories).toContain(task.category);
      expect(task.boxes).toEqual(present.map((o) => o.box));
      if (present.length === 0) negatives++;
    }
    expect(negatives).toBeGreaterThan(15);
    expect(negatives).toBeLessThan(60);
    const none = seeds(50).filter(
      (seed) => makeDetectionTask(generateScene(seed), seed, { negativeRate: 0 }).boxes.length === 0,
    );
    expect(none).toEqual([]);
  });

  it('open-vocabulary detection asks present and absent categories and boxes exactly the asked ones', () => {
    for (const seed of seeds(80)) {
      const { scene, task } = sampleTask('ovd', seed);
      if (task.kind !== 'ovd') throw new Error('expected an ovd task');
      const present = new Set(scene.objects.map((o) => o.shape));
      expect(task.categories.some((c) => present.has(c))).toBe(true);
      expect(task.categories.some((c) => !present.has(c))).toBe(true);
      expect(new Set(task.categories).size).toBe(task.categories.length);
      expect(task.boxes).toEqual(
        scene.objects
          .filter((o) => task.categories.includes(o.shape))
          .map((o) => ({ box: o.box, label: o.shape })),
      );
    }
  });

  it.each(['detection', 'classification', 'rec', 'ovd'] as TaskKind[])(
    '%s: the base split never shows or asks for a novel shape, the novel split only novel ones',
    (kind) => {
      for (const seed of seeds(60)) {
        for (const [split, allowed] of [
          ['base', baseCategories],
          ['novel', novelCategories],
        ] as const) {
          const { scene, task } = sampleTask(kind, seed, { split });
          for (const o of scene.objects) expect(allowed).toContain(o.shape);
          const asked =
            task.kind === 'detection' ? [task.category] : task.kind === 'ovd' ? task.categories : [];
          for (const name of asked) expect(allowed).toContain(name);
        }
      }
    },
  );

  it('sampleTask is a pure function of (kind, seed)', () => {
    for (const kind of ['detection', 'classification', 'rec', 'ovd'] as TaskKind[]) {
      const a = sampleTask(kind, 42, { split: 'all' });
      const b = sampleTask(kind, 42, { split: 'all' });
      expect(b.task).toEqual(a.task);
      expect(Buffer.from(b.scene.rgb).equals(Buffer.from(a.scene.rgb))).toBe(true);
    }
  });
});
