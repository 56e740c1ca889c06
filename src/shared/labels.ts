/**
 * How class names compare: lower-case, trimmed, whitespace and underscores collapsed to one
 * space, a trailing period dropped. Used by the classification reward, evaluation and import.
 */
export function normaliseLabel(text: string): string {
  return text
    .toLowerCase()
    .trim()
    .replace(/[\s_]+/g, ' ')
    .replace(/\.$/, '')
    .trim();
}

/** True iff the answer names exactly the label or one of its synonyms; an empty answer never does. */
export function labelMatches(answer: string, label: string, synonyms: readonly string[] = []): boolean {
  const given = normaliseLabel(answer);
  return given !== '' && [label, ...synonyms].some((l) => normaliseLabel(l) === given);
}
