/**
 * Splitting a completion into its thinking text and its answer, and the format rule:
 * the whole completion must be `<think>…</think>` then `<answer>…</answer>` (newlines allowed).
 */
// Python's `$` (the published rule is a Python regex) also matches before one final newline.
const formatPattern = /^<think>[\s\S]*?<\/think>\s*<answer>[\s\S]*?<\/answer>\n?$/;

export type AnswerTag = 'closed' | 'truncated' | 'missing';

export interface CompletionParts {
  think: string | null;
  /** The text of the first `<answer>…</answer>`; after a cut-off, from `<answer>` to the end. */
  answer: string;
  answerTag: AnswerTag;
  formatOk: boolean;
}

export function formatOk(completion: string): boolean {
  return formatPattern.test(completion);
}

export function splitCompletion(completion: string): CompletionParts {
  const thinkStart = completion.indexOf('<think>');
  let think: string | null = null;
  if (thinkStart >= 0) {
    const thinkEnd = completion.indexOf('</think>', thinkStart + 7);
    think = completion.slice(thinkStart + 7, thinkEnd >= 0 ? thinkEnd : undefined);
  }
  const open = completion.indexOf('<answer>');
  if (open < 0) {
    // No answer tag: the answer is whatever is not thinking (models that ignore the tags still
    // get scored; the format reward is what asks for the tags).
    const rest = completion.replace(/<think>[\s\S]*?(<\/think>|$)/, '');
    return { think, answer: rest.trim(), answerTag: 'missing', formatOk: false };
  }
  const close = completion.indexOf('</answer>', open + 8);
  return {
    think,
    answer: completion.slice(open + 8, close >= 0 ? close : undefined).trim(),
    answerTag: close >= 0 ? 'closed' : 'truncated',
    formatOk: formatOk(completion),
  };
}
