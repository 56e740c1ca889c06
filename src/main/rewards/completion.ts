/**
 * Splitting a completion into its thinking text and its answer, and the format rules:
 * the whole completion must be `<think>…</think>` then `<answer>…</answer>` (newlines allowed).
 */
// The published rule is `re.fullmatch(pattern, content, re.DOTALL)` (Visual-RFT grpo.py, VLM-R1
// grpo_jsonl.py): nothing before or after, not even a final newline. JavaScript's `$` without the
// `m` flag is the end of the string, as fullmatch wants.
const formatPattern = /^<think>[\s\S]*?<\/think>\s*<answer>[\s\S]*?<\/answer>$/;

// VLM-R1's REC format rule (qwen_module.py, format_reward_rec), as published: `re.search` (not
// fullmatch) of a think block, then an answer holding `{…[d, d, d, d]…}` (whole numbers), DOTALL.
const recFormatPattern =
  /<think>[\s\S]*?<\/think>\s*<answer>[\s\S]*?\{[\s\S]*\[\d+,\s*\d+,\s*\d+,\s*\d+\][\s\S]*\}[\s\S]*?<\/answer>/;

export type AnswerTag = 'closed' | 'truncated' | 'missing';

export interface CompletionParts {
  think: string | null;
  /**
   * The text of the first `<answer>…</answer>`; after a cut-off, from `<answer>` to the end; with
   * no tag, the text outside `<think>` (for evaluation and the trace viewer). Rewards score only a
   * closed answer (`answerTag` 'closed'), as the published code does (docs/rewards-vs-upstream.md).
   */
  answer: string;
  answerTag: AnswerTag;
  formatOk: boolean;
}

export function formatOk(completion: string): boolean {
  return formatPattern.test(completion);
}

export function recFormatOk(completion: string): boolean {
  return recFormatPattern.test(completion);
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
    // No answer tag: whatever is not thinking, for evaluation of models that ignore the tags; the
    // rewards give it 0.
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
