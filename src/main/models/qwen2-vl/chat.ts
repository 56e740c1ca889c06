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

export class QwenTokenizer implements PolicyTokenizer {
  readonly eos = qwenTokens.imEnd;
  readonly pad = qwenTokens.endOfText;
  private readonly tokenizer: Tokenizer;

  constructor(
    readonly json: Record<string, unknown>,
    config: Record<string, unknown> = {},
  ) {
    this.tokenizer = new Tokenizer(
      json as never,
      { clean_up_tokenization_spaces: false, ...config } as never,
    );
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: false });
  }
}

export type ChatContent = string | ({ type: 'image' } | { type: 'text'; text: string })[];
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ChatContent;
}

export class QwenChat {
  private readonly compiled: Template;

  constructor(
    readonly tokenizer: QwenTokenizer,
    readonly template: string,
  ) {
    this.compiled = new Template(template);
  }

  /** The template over `messages`, ending with the assistant's turn when `addGenerationPrompt`. */
  renderMessages(messages: ChatMessage[], addGenerationPrompt = true): string {
    return this.compiled.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: '',
      eos_token: '<|im_end|>',
    });
  }

  /** One user turn: the image, then the question; the assistant's turn opened. */
  render(question: string): string {
    return this.renderMessages([
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] },
    ]);
  }
}

/** Each `<|image_pad|>` run of the ids (one per image, in order) repeated to its image's merged tokens. */
export function expandImagePads(
  ids: readonly number[],
  grid: readonly [number, number, number],
  mergeSize: number,
): number[] {
  const count = (grid[0] * grid[1] * grid[2]) / (mergeSize * mergeSize);
  const at = ids.indexOf(imagePadId);
  if (at < 0)
    throw new Error(
      'the prompt has no <|image_pad|>: a raw prompt must hold <|vision_start|><|image_pad|><|vision_end|> where the image goes',
    );
  if (ids.indexOf(imagePadId, at + 1) >= 0)
    throw new Error('the prompt has more than one <|image_pad|> for one image');
  return [...ids.slice(0, at), ...Array<number>(count).fill(imagePadId), ...ids.slice(at + 1)];
}
