/** The comparison table as Markdown and CSV, the way the papers print it, and downloads. */
import type { ComparisonView } from '../../../shared/compareContract';

type Cell = ComparisonView['mean'][string];

const pct = (v: number) => (100 * v).toFixed(1);
const signed = (v: number) => `${v >= 0 ? '+' : ''}${pct(v)}`;

/**
 * "12.3 (4.5)": AP50 (AP) for detection, accuracy for classification, Acc@0.5 for REC; "–" where
 * undefined.
 */
export function formatCell(c: Cell | undefined): string {
  if (!c || c.primary < 0) return '–';
  return c.secondary === undefined || c.secondary < 0
    ? pct(c.primary)
    : `${pct(c.primary)} (${pct(c.secondary)})`;
}

export interface Delta {
  text: string;
  /** The interval, as text, when measured: "[+1.1, +4.8]". */
  range: string;
  /** The interval excludes 0. */
  sure: boolean;
}

/** Δ of the last column against column `from` on one row (a category, or undefined: all). */
export function delta(c: ComparisonView, from: number, category?: string): Delta {
  const last = c.columns.at(-1)!.label;
  const row = category === undefined ? c.mean : c.categories[category]!;
  const a = row[c.columns[from]!.label];
  const b = row[last];
  if (!a || !b || a.primary < 0 || b.primary < 0) return { text: '–', range: '', sure: false };
  const interval = c.intervals[from];
  const i = interval?.unavailable
    ? undefined
    : category === undefined
      ? interval?.mean
      : interval?.categories?.[category];
  return {
    text: signed(b.primary - a.primary),
    range: i && Number.isFinite(i.low) ? `[${signed(i.low)}, ${signed(i.high)}]` : '',
    sure: !!i && (i.low > 0 || i.high < 0),
  };
}

/** The rows the table shows: categories with a figure in some column, then "all". */
export function tableRows(c: ComparisonView): { name: string; category?: string }[] {
  return [
    ...Object.entries(c.categories)
      .filter(([, row]) => Object.values(row).some((v) => v.primary >= 0))
      .map(([name]) => ({ name, category: name })),
    { name: c.metric === 'classification' ? 'all images' : c.metric === 'rec' ? 'all expressions' : 'all' },
  ];
}

function grid(c: ComparisonView): string[][] {
  const labels = c.columns.map((x) => x.label);
  const last = labels.at(-1)!;
  const head = ['category', ...labels, ...labels.slice(0, -1).map((l) => `Δ ${last}−${l}`)];
  const body = tableRows(c).map((r) => {
    const row = r.category === undefined ? c.mean : c.categories[r.category]!;
    return [
      r.name,
      ...labels.map((l) => formatCell(row[l])),
      ...labels.slice(0, -1).map((_, i) => {
        const d = delta(c, i, r.category);
        return d.range ? `${d.text} ${d.range}` : d.text;
      }),
    ];
  });
  return [head, ...body];
}

const captions: Record<ComparisonView['metric'], string> = {
  detection: 'AP50 (AP@[.5:.95]) in %, per category; Δ with its 95 % paired-bootstrap interval',
  classification: 'accuracy in %, per category',
  rec: 'Acc@0.5 (IoU > 0.5) in %, per category of the expressions; Δ with its 95 % paired-bootstrap interval',
};

export function caption(c: ComparisonView): string {
  return captions[c.metric];
}

export function toMarkdown(c: ComparisonView): string {
  const [head, ...body] = grid(c);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `${caption(c)}`,
    '',
    line(head!),
    line(head!.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...body.map(line),
    '',
  ].join('\n');
}

export function toCsv(c: ComparisonView): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `${grid(c)
    .map((row) => row.map(quote).join(','))
    .join('\n')}\n`;
}

/** Saves text as a file the browser downloads. */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * The element as a self-contained HTML page: the app's style rules inlined, each image as a data
 * URL, each chart's canvas as a picture of itself, buttons and inputs left out.
 */
export async function htmlReport(root: HTMLElement, title: string): Promise<string> {
  const copy = root.cloneNode(true) as HTMLElement;
  const images = [...root.querySelectorAll('img')];
  const copies = [...copy.querySelectorAll('img')];
  // Drawn through a canvas, not fetched: the page's CSP (connect-src 'self') refuses blob: fetches.
  await Promise.all(
    images.map(async (img, i) => {
      if (!img.src) return;
      if (img.src.startsWith('data:')) return void (copies[i]!.src = img.src);
      await img.decode().catch(() => undefined);
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d')?.drawImage(img, 0, 0);
      copies[i]!.src = canvas.toDataURL('image/png');
    }),
  );
  const canvases = [...root.querySelectorAll('canvas')];
  [...copy.querySelectorAll('canvas')].forEach((canvas, i) => {
    const img = document.createElement('img');
    img.src = canvases[i]!.toDataURL('image/png');
    img.style.width = `${canvases[i]!.clientWidth}px`;
    canvas.replaceWith(img);
  });
  for (const el of copy.querySelectorAll('button, input, select, .no-report')) el.remove();
  const css = [...document.styleSheets]
    .flatMap((sheet) => {
      try {
        return [...sheet.cssRules].map((rule) => rule.cssText);
      } catch {
        return [];
      }
    })
    .join('\n');
  const escape = (s: string) =>
    s.replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]!);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>${css}</style></head>
<body><main class="view report" style="max-width:none">${copy.innerHTML}
<p class="muted">Made by vrft on ${escape(new Date().toISOString())}.</p></main></body></html>
`;
}
