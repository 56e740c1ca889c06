/**
 * Tokenizers are read from a Hugging Face `tokenizer.json` by @huggingface/tokenizers, for
 * tiny-vlm as for Qwen, so one path serves both. tiny-vlm's own tokenizer.json is word-level,
 * written as a BPE model with `ignore_merges` (tokenizers.js has no WordLevel model): every
 * pre-tokenized piece found in the vocabulary is one token, anything else falls back to single
 * characters. Integers 0–1000 are single tokens, the think/answer tags and the answer format's
 * punctuation runs are tokens of their own, and a Fuse decoder makes decode(encode(t)) === t for
 * ASCII text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../../shared/errors';
import { notValidJson } from '../data/jsonErrors';

export const specialTokens = {
  pad: '<|pad|>',
  eos: '<|endoftext|>',
  unk: '<|unk|>',
  image: '<|image|>',
} as const;

export const tagTokens = ['<think>', '</think>', '<answer>', '</answer>'] as const;

/** Runs of the answer format that are one token each: fewer tokens per box, same text. */
export const phraseTokens = [
  "{'Position': [",
  "], 'Confidence': ",
  '}, ',
  ', ',
  'No Objects',
  '{"bbox_2d": [',
  '], "label": "',
  '"}',
];

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Phrases first (longest first), then words with their leading space, numbers, single characters. */
export const preTokenizePattern = [
  ...[...phraseTokens].sort((a, b) => b.length - a.length).map(escapeRegex),
  ' ?[A-Za-z]+',
  '\\d+',
  '\\s',
  '[^\\sA-Za-z\\d]',
].join('|');

const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).concat(['\n', '\t']);

/**
 * tiny-vlm's tokenizer.json: specials, tags, 0–1000, printable ASCII, the answer-format phrases,
 * and every word of `words` (each also with a leading space).
 */
export function buildWordTokenizerJson(words: readonly string[]): object {
  const vocab: Record<string, number> = {};
  const add = (token: string) => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  const added = [...Object.values(specialTokens), ...tagTokens];
  added.forEach(add);
  for (let n = 0; n <= 1000; n++) add(String(n));
  printable.forEach(add);
  phraseTokens.forEach(add);
  for (const word of [...new Set(words)].sort()) {
    if (!/^[A-Za-z]+$/.test(word)) throw new Error(`not a word: ${JSON.stringify(word)}`);
    add(word);
    add(` ${word}`);
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Split',
      pattern: { Regex: preTokenizePattern },
      behavior: 'Isolated',
      invert: false,
    },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: specialTokens.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges: [],
    },
  };
}

/** A tokenizer.json, loaded, with the ids the models need. */
export class TextTokenizer {
  readonly vocabSize: number;
  readonly eos: number;
  readonly pad: number;
  private readonly tokenizer: Tokenizer;
  private readonly ids: Map<string, number>;
  private readonly tokens: string[];

  constructor(readonly json: { model: { vocab: Record<string, number> } }) {
    this.tokenizer = new Tokenizer(json, { clean_up_tokenization_spaces: false });
    this.ids = new Map(Object.entries(json.model.vocab));
    this.tokens = [];
    for (const [token, id] of this.ids) this.tokens[id] = token;
    this.vocabSize = this.tokens.length;
    this.eos = this.id(specialTokens.eos);
    this.pad = this.id(specialTokens.pad);
  }

  id(token: string): number {
    const id = this.ids.get(token);
    if (id === undefined) throw new Error(`the tokenizer has no token ${JSON.stringify(token)}`);
    return id;
  }

  token(id: number): string {
    return this.tokens[id] ?? specialTokens.unk;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: false });
  }

  /** The value of a number token 0–1000, or undefined for any other token. */
  numberValue(id: number): number | undefined {
    const token = this.tokens[id];
    return token !== undefined && /^\d+$/.test(token) && Number(token) <= 1000 ? Number(token) : undefined;
  }
}

/** tokenizer.json parsed; a missing or damaged file is the user's to fix, and says which file. */
export function readTokenizerJson(dir: string): { model: { vocab: Record<string, number> } } {
  const file = path.join(dir, 'tokenizer.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(
      'invalid_input',
      `${dir} has no tokenizer.json: copy it from where the model came from (a model folder holds config.json, its weights and tokenizer.json).`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(
      'invalid_input',
      `${file}: ${notValidJson(text, error)}: the tokenizer is damaged; copy it again from where the model came from.`,
    );
  }
  const vocab = (json as { model?: { vocab?: unknown } } | null)?.model?.vocab;
  if (typeof vocab !== 'object' || vocab === null)
    throw new UserError('invalid_input', `${file}: not a tokenizer (it has no model.vocab).`);
  return json as { model: { vocab: Record<string, number> } };
}

export function loadTokenizer(dir: string): TextTokenizer {
  return new TextTokenizer(readTokenizerJson(dir));
}
