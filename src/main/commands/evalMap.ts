import { evaluateCoco, type CocoEvalResult } from '../eval/coco';
import { checkCocoDetections, checkCocoGt, CocoFormatError } from '../eval/cocoFiles';
import { failFile, parseUserJson, readUserFile, requiredString, type Command, type Values } from './command';

/** The 12 lines pycocotools' summarize() prints, character for character. */
const summaryRows: [string, string, string, number][] = [
  ['AP', '0.50:0.95', 'all', 100],
  ['AP', '0.50', 'all', 100],
  ['AP', '0.75', 'all', 100],
  ['AP', '0.50:0.95', 'small', 100],
  ['AP', '0.50:0.95', 'medium', 100],
  ['AP', '0.50:0.95', 'large', 100],
  ['AR', '0.50:0.95', 'all', 1],
  ['AR', '0.50:0.95', 'all', 10],
  ['AR', '0.50:0.95', 'all', 100],
  ['AR', '0.50:0.95', 'small', 100],
  ['AR', '0.50:0.95', 'medium', 100],
  ['AR', '0.50:0.95', 'large', 100],
];

export function formatCocoSummary(result: CocoEvalResult, names: Map<number, string>): string {
  const lines = summaryRows.map(([kind, ious, area, maxDets], i) => {
    const title = (kind === 'AP' ? 'Average Precision' : 'Average Recall').padEnd(18);
    const value = (result.stats[i] as number).toFixed(3);
    return ` ${title} (${kind}) @[ IoU=${ious.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${value}`;
  });
  lines.push('', 'Per-category AP@[.50:.95]:');
  for (const [id, ap] of result.perCategoryAP) {
    lines.push(
      `  ${String(id).padStart(4)}  ${(names.get(id) ?? '').padEnd(24)} ${ap === -1 ? '  -1 (no ground truth)' : ap.toFixed(3)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function load<T>(file: string, check: (data: unknown) => T): T {
  const data = parseUserJson(file, readUserFile(file));
  try {
    return check(data);
  } catch (error) {
    if (error instanceof CocoFormatError) failFile(file, error.message);
    throw error;
  }
}

async function evalMap(values: Values): Promise<number> {
  const gtFile = requiredString(values, 'gt');
  const dtFile = requiredString(values, 'dt');
  const gt = load(gtFile, checkCocoGt);
  const detections = load(dtFile, (data) => checkCocoDetections(data, gt));
  const result = evaluateCoco(gt, detections);
  if (values.json) {
    const perCategoryAP = Object.fromEntries([...result.perCategoryAP].map(([id, ap]) => [String(id), ap]));
    process.stdout.write(`${JSON.stringify({ stats: result.stats, perCategoryAP })}\n`);
  } else {
    process.stdout.write(formatCocoSummary(result, new Map(gt.categories.map((c) => [c.id, c.name ?? '']))));
  }
  return 0;
}

export const evalMapCommand: Command = {
  summary: 'COCO box AP of detections against ground truth (equal to pycocotools)',
  usage: 'vrft eval-map --gt COCO_GT.json --dt DETECTIONS.json [--json]',
  flags: { gt: { type: 'string' }, dt: { type: 'string' }, json: { type: 'boolean' } },
  run: evalMap,
};
