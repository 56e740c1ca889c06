import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatCocoSummary } from '../../src/main/commands/evalMap';
import {
  cocoAP50,
  cocoMeanAP,
  evaluateCoco,
  iouThresholds,
  type CocoDetection,
  type CocoGt,
} from '../../src/main/eval/coco';

interface Case {
  name: string;
  gt: CocoGt;
  dt: CocoDetection[];
  stats: number[];
  perCategoryAP: Record<string, number>;
  summary: string;
}

const cases = JSON.parse(readFileSync('test/fixtures/coco/cases.json', 'utf8')) as Case[];

describe('COCO box AP equals pycocotools', () => {
  it('has the reference cases (≥ 25, made by tools/reference/coco_cases.py)', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = evaluateCoco(c.gt, c.dt);
    expect(result.stats).toHaveLength(12);
    result.stats.forEach((value, i) => {
      expect(Math.abs(value - (c.stats[i] as number)), `stats[${i}]: ${value} vs ${c.stats[i]}`).toBeLessThan(
        1e-6,
      );
    });
    expect([...result.perCategoryAP.keys()].map(String).sort()).toEqual(Object.keys(c.perCategoryAP).sort());
    for (const [id, ap] of result.perCategoryAP) {
      expect(Math.abs(ap - (c.perCategoryAP[String(id)] as number)), `category ${id}`).toBeLessThan(1e-6);
    }
  });

  it("prints pycocotools' 12 summary lines character for character, on every case", () => {
    for (const c of cases) {
      const text = formatCocoSummary(evaluateCoco(c.gt, c.dt), new Map());
      expect(text.split('\n').slice(0, 12).join('\n'), c.name).toBe(c.summary.trimEnd());
    }
  });

  it('per-category AP50 is what a one-category evaluation reports as AP50', () => {
    const c = cases.find((x) => x.name === 'crowd-boxes')!;
    const result = evaluateCoco(c.gt, c.dt);
    for (const { id } of c.gt.categories) {
      const one = evaluateCoco(
        { ...c.gt, categories: [{ id }] },
        c.dt.filter((d) => d.category_id === id),
      );
      expect(result.perCategoryAP50.get(id)).toBe(one.stats[1]);
    }
  });

  it('the AP-only and AP50-only paths equal the full evaluation on every case', () => {
    for (const c of cases) {
      const full = evaluateCoco(c.gt, c.dt);
      expect(cocoMeanAP(c.gt, c.dt), c.name).toBe(full.stats[0]);
      const ap50 = cocoAP50(c.gt, c.dt);
      expect(ap50.ap50, c.name).toBe(full.stats[1]);
      expect(ap50.perCategory, c.name).toEqual(full.perCategoryAP50);
    }
  });

  it('uses numpy.linspace IoU thresholds, .50 and .75 among them exactly', () => {
    expect(iouThresholds).toHaveLength(10);
    expect(iouThresholds.indexOf(0.5)).toBe(0);
    expect(iouThresholds.indexOf(0.75)).toBe(5);
    expect(iouThresholds[9]).toBe(0.95);
  });
});
