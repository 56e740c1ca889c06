/**
 * Every ShapeWorld shape as polygon rings in a unit frame (nominal radius 1, y down, the unrotated
 * box centred on the origin), filled by the even-odd rule so a ring is an outer and an inner circle.
 * Proportions are bold on purpose: arms, points and holes stay several pixels wide when a small shape
 * is downsampled to a 64-pixel image.
 */

/** A closed polygon as flat [x0, y0, x1, y1, …]. */
export type Ring = number[];

function regular(vertices: number, radius = 1, phase = -Math.PI / 2): Ring {
  const ring: Ring = [];
  for (let i = 0; i < vertices; i++) {
    const a = phase + (2 * Math.PI * i) / vertices;
    ring.push(radius * Math.cos(a), radius * Math.sin(a));
  }
  return ring;
}

function starRing(points: number, outer: number, inner: number): Ring {
  const ring: Ring = [];
  for (let i = 0; i < points * 2; i++) {
    const a = -Math.PI / 2 + (Math.PI * i) / points;
    const r = i % 2 === 0 ? outer : inner;
    ring.push(r * Math.cos(a), r * Math.sin(a));
  }
  return ring;
}

function heartRing(segments: number): Ring {
  const ring: Ring = [];
  for (let i = 0; i < segments; i++) {
    const t = (2 * Math.PI * i) / segments;
    const x = 16 * Math.sin(t) ** 3;
    const y = 13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t);
    ring.push(x, -y);
  }
  return ring;
}

/** Shifts the rings so their box is centred on the origin and scales its longer half-side to `half`. */
function centred(rings: Ring[], half = 1): Ring[] {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of rings) {
    for (let i = 0; i < ring.length; i += 2) {
      minX = Math.min(minX, ring[i]!);
      maxX = Math.max(maxX, ring[i]!);
      minY = Math.min(minY, ring[i + 1]!);
      maxY = Math.max(maxY, ring[i + 1]!);
    }
  }
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const scale = half / Math.max(maxX - cx, maxY - cy);
  return rings.map((ring) => ring.map((v, i) => (v - (i % 2 === 0 ? cx : cy)) * scale));
}

const circleSegments = 72;

const unitShapes: Record<string, Ring[]> = {
  circle: [regular(circleSegments)],
  ring: [regular(circleSegments), regular(circleSegments, 0.55)],
  square: [[-0.82, -0.82, 0.82, -0.82, 0.82, 0.82, -0.82, 0.82]],
  diamond: [[0, -1, 0.64, 0, 0, 1, -0.64, 0]],
  triangle: centred([regular(3)], 0.95),
  pentagon: centred([regular(5)]),
  hexagon: centred([regular(6)]),
  heptagon: centred([regular(7)]),
  star: centred([starRing(5, 1, 0.48)]),
  cross: [
    [
      -0.34, -0.95, 0.34, -0.95, 0.34, -0.34, 0.95, -0.34, 0.95, 0.34, 0.34, 0.34, 0.34, 0.95, -0.34, 0.95,
      -0.34, 0.34, -0.95, 0.34, -0.95, -0.34, -0.34, -0.34,
    ],
  ],
  heart: centred([heartRing(64)], 0.95),
  arrow: [[-1, -0.28, 0.12, -0.28, 0.12, -0.7, 1, 0, 0.12, 0.7, 0.12, 0.28, -1, 0.28]],
};

/**
 * The shape's rings in image pixels: scaled to `radius`, turned by `rotation` degrees (clockwise on
 * screen, since y points down) and moved to (cx, cy).
 */
export function placeShape(shape: string, cx: number, cy: number, radius: number, rotation: number): Ring[] {
  const rings = unitShapes[shape];
  if (rings === undefined) throw new Error(`no geometry for shape "${shape}"`);
  const a = (rotation * Math.PI) / 180;
  const cos = Math.cos(a) * radius;
  const sin = Math.sin(a) * radius;
  return rings.map((ring) => {
    const out: Ring = new Array<number>(ring.length);
    for (let i = 0; i < ring.length; i += 2) {
      const x = ring[i]!;
      const y = ring[i + 1]!;
      out[i] = cx + x * cos - y * sin;
      out[i + 1] = cy + x * sin + y * cos;
    }
    return out;
  });
}

/** The box of the rings, in whatever frame they are in. */
export function ringsExtent(rings: readonly Ring[]): {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
} {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of rings) {
    for (let i = 0; i < ring.length; i += 2) {
      minX = Math.min(minX, ring[i]!);
      maxX = Math.max(maxX, ring[i]!);
      minY = Math.min(minY, ring[i + 1]!);
      maxY = Math.max(maxY, ring[i + 1]!);
    }
  }
  return { minX, minY, maxX, maxY };
}
