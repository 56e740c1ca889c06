/**
 * Qwen's text side: the byte-level BPE of `tokenizer.json` (through @huggingface/tokenizers, which
 * gives transformers' ids, special tokens included) and the checkpoint's chat template (rendered
 * by @huggingface/jinja as transformers renders it). A question about an image becomes
 * `<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{text}<|im_end|>\n<|im_start|>assistant\n`
 * after the template's system turn; the one `<|image_pad|>` is then repeated once per merged image
 * token, as Qwen2VLProcessor does.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import type { PolicyTokenizer } from '../policy';
import { qwenTokens } from './config';

export const imagePadId = 151655;

type Json = Record<string, unknown>;

/**
 * tokenizer.json, built on first use: Qwen's BPE (151k merges) takes ~0.5 s to parse and build,
 * which a caller that only wants the weights or the template (doctor, export) need not pay.
 */
export class QwenTokenizer implements PolicyTokenizer {
  readonly eos = qwenTokens.imEnd;
  readonly pad = qwenTokens.endOfText;
  private source: Json | (() => Json);
  private built: Tokenizer | undefined;

  constructor(
    json: Json | (() => Json),
    /** tokenizer_config.json (or {}): its special tokens also reach the chat template. */
    readonly config: Json = {},
  ) {
    this.source = json;
  }

  /** The parsed tokenizer.json. */
  get json(): Json {
    if (typeof this.source === 'function') this.source = this.source();
    return this.source;
  }

  private get tokenizer(): Tokenizer {
    this.built ??= new Tokenizer(
      this.json as never,
      { clean_up_tokenization_spaces: false, ...this.config } as never,
    );
    return this.built;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (!ids.length) return ''; // tokenizers.js refuses an empty list
    return this.tokenizer.decode([...ids], { skip_special_tokens: false });
  }
}

export type ChatItem = { type: 'image' } | { type: 'text'; text: string };
export type ChatContent = string | ChatItem[];
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ChatContent;
}

export interface RenderOptions {
  /** End with the opened assistant turn (`<|im_start|>assistant\n`); default true. */
  addGenerationPrompt?: boolean;
}

/** The special tokens transformers hands every template (`special_tokens_map`): the ones that are set. */
function specialTokensOf(config: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const v = config[key];
    const text = typeof v === 'string' ? v : (v as { content?: unknown } | null)?.content;
    if (typeof text === 'string') out[key] = text;
  }
  return out;
}

const compiled = new Map<string, Template>();

/** Compiles a template once per distinct source (a process sees one or two). */
function templateOf(source: string): Template {
  let template = compiled.get(source);
  if (!template) {
    if (compiled.size >= 8) compiled.clear();
    template = new Template(source);
    compiled.set(source, template);
  }
  return template;
}

/** The chat template over `messages`, with transformers' variables. */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  options: RenderOptions & { specialTokens?: Record<string, string> } = {},
): string {
  return templateOf(template).render({
    ...(options.specialTokens ?? { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' }),
    messages: messages as unknown as ChatMessage[],
    add_generation_prompt: options.addGenerationPrompt ?? true,
  });
}

/** One user turn rendered by `template`: the image first (when `image`), then `userText`; the assistant's turn opened. */
export function qwenPromptText(
  template: string,
  userText: string,
  options: { image?: boolean; system?: string } = {},
): string {
  const messages: ChatMessage[] = [];
  if (options.system !== undefined) messages.push({ role: 'system', content: options.system });
  messages.push({
    role: 'user',
    content: options.image === false ? userText : [{ type: 'image' }, { type: 'text', text: userText }],
  });
  return renderChatTemplate(template, messages);
}

export class QwenChat {
  constructor(
    readonly tokenizer: QwenTokenizer,
    readonly template: string,
  ) {
    templateOf(template); // a template that does not parse fails at load, not at the first prompt
  }

  /** The template over `messages`, ending with the assistant's turn unless addGenerationPrompt is false. */
  renderChat(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    return renderChatTemplate(this.template, messages, {
      ...options,
      specialTokens: specialTokensOf(this.tokenizer.config),
    });
  }

  /** renderChat with a positional flag (kept for callers written against it). */
  renderMessages(messages: ChatMessage[], addGenerationPrompt = true): string {
    return this.renderChat(messages, { addGenerationPrompt });
  }

  /** One user turn: the image, then the question; the assistant's turn opened. */
  render(question: string): string {
    return this.renderChat([
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] },
    ]);
  }
}

type Grid = readonly [number, number, number];

/**
 * Each `<|image_pad|>` of the ids repeated to its image's merged tokens, t·h·w / merge², images in
 * order — what Qwen2VLProcessor does to the text before tokenizing (the pad is an added token, so
 * expanding before or after tokenizing gives the same ids). `grids` is one image's grid_thw, or one
 * per `<|image_pad|>`.
 */
export function expandImagePads(
  ids: readonly number[],
  grids: Grid | readonly Grid[],
  mergeSize = 2,
): number[] {
  const list: readonly Grid[] = typeof grids[0] === 'number' ? [grids as Grid] : (grids as readonly Grid[]);
  const pads = ids.reduce((n, id) => n + (id === imagePadId ? 1 : 0), 0);
  if (pads === 0)
    throw new Error(
      'the prompt has no <|image_pad|>: a raw prompt must hold <|vision_start|><|image_pad|><|vision_end|> where the image goes',
    );
  if (pads !== list.length)
    throw new Error(
      `the prompt has ${pads} <|image_pad|> for ${list.length} image${list.length === 1 ? '' : 's'}: one each`,
    );
  const out: number[] = [];
  let image = 0;
  for (const id of ids) {
    if (id !== imagePadId) {
      out.push(id);
      continue;
    }
    const [t, h, w] = list[image++]!;
    const count = (t * h * w) / (mergeSize * mergeSize);
    if (!Number.isInteger(count) || count <= 0)
      throw new Error(
        `image_grid_thw [${t}, ${h}, ${w}] does not divide into ${mergeSize}×${mergeSize} merges`,
      );
    for (let i = 0; i < count; i++) out.push(imagePadId);
  }
  return out;
}

/** A rendered prompt's input ids, each `<|image_pad|>` expanded for its image's grid. */
export function qwenInputIds(
  tokenizer: PolicyTokenizer,
  text: string,
  grids: Grid | readonly Grid[],
  mergeSize = 2,
): number[] {
  return expandImagePads(tokenizer.encode(text), grids, mergeSize);
}
