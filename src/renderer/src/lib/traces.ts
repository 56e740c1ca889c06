/** The Traces view's address and the little formatting its cards share. */

/** Where the view is: `#/traces/RUN/STEP/?prompt=KEY&vs=RUN2` (App reads RUN and STEP as ids). */
export interface TraceAddress {
  runId?: number;
  step?: number;
  prompt?: string;
  /** The run to compare with. */
  vs?: number;
}

export function readTraceAddress(hash: string, ids: number[]): TraceAddress {
  const query = new URLSearchParams(hash.split('?')[1] ?? '');
  const vs = Number(query.get('vs'));
  return {
    runId: ids[0],
    step: ids[1],
    prompt: query.get('prompt') ?? undefined,
    vs: Number.isSafeInteger(vs) && vs > 0 ? vs : undefined,
  };
}

export function traceHash(a: TraceAddress): string {
  if (a.runId === undefined) return '#/traces';
  const query = new URLSearchParams();
  if (a.prompt !== undefined) query.set('prompt', a.prompt);
  if (a.vs !== undefined) query.set('vs', String(a.vs));
  const q = query.toString();
  return `#/traces/${a.runId}${a.step !== undefined ? `/${a.step}` : ''}${q ? `/?${q}` : ''}`;
}

/** "+0.731" / "−1.204": an advantage with its sign always shown. */
export function signed(value: number, digits = 3): string {
  return `${value < 0 ? '−' : '+'}${Math.abs(value).toFixed(digits)}`;
}

export function fixed(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

/** An image of the workspace as a blob URL, fetched once per image id. */
const imageUrls = new Map<number, Promise<string | undefined>>();
export function imageUrl(
  id: number,
  fetch: (id: number) => Promise<{ mime: string; base64: string }>,
): Promise<string | undefined> {
  let url = imageUrls.get(id);
  if (!url) {
    url = fetch(id).then(
      (file) => {
        const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0));
        return URL.createObjectURL(new Blob([bytes], { type: file.mime }));
      },
      () => {
        imageUrls.delete(id);
        return undefined;
      },
    );
    imageUrls.set(id, url);
  }
  return url;
}
