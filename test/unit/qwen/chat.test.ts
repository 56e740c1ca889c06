/**
 * Qwen's tokenizer and chat template against transformers 5.18 (test/fixtures/qwen/chat_cases.json,
 * tools/reference/qwen_tokenizer.py): ids for ASCII, numbers and boxes, unicode / emoji / CJK,
 * whitespace runs and inline special tokens; the template rendered over image + text conversations
 * (system turn or not, generation prompt or not) and its ids; the input ids once each
 * `<|image_pad|>` is expanded for its image's grid, as Qwen2VLProcessor does.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  expandImagePads,
  imagePadId,
  qwenInputIds,
  qwenPromptText,
  renderChatTemplate,
  type ChatMessage,
} from '../../../src/main/models/qwen2-vl/chat';
import { loadQwenFolder, type QwenFolder } from '../../../src/main/models/qwen2-vl/folder';

const fixtures = path.join(__dirname, '../../fixtures/qwen');
type Grid = [number, number, number];
interface FolderCase {
  folder: string;
  template: string;
  encode: { text: string; ids: number[] }[];
  decode: { ids: number[]; text: string }[];
  chats: {
    name: string;
    messages: ChatMessage[];
    addGenerationPrompt: boolean;
    text: string;
    ids: number[];
  }[];
  expanded: { text: string; grids: Grid[]; ids: number[] }[];
}
const { folders } = JSON.parse(readFileSync(path.join(fixtures, 'chat_cases.json'), 'utf8')) as {
  folders: FolderCase[];
};

// The BF16 copy has the same tokenizer files as the F32 one: two tokenizers cover the three folders.
describe.each(folders.filter((c) => !c.folder.endsWith('bf16')).map((c) => [c.folder, c] as const))(
  '%s',
  (name, c) => {
    let folder: QwenFolder;
    beforeAll(() => {
      folder = loadQwenFolder(path.join(fixtures, name));
    }, 60_000);

    it.each(c.encode.map((e) => [JSON.stringify(e.text).slice(0, 50), e] as const))(
      'encodes %s as transformers does',
      (_, e) => {
        expect(folder.tokenizer.encode(e.text)).toEqual(e.ids);
      },
    );

    it('decodes as transformers does, special tokens kept', () => {
      for (const d of c.decode) expect(folder.tokenizer.decode(d.ids)).toBe(d.text);
      for (const e of c.encode) expect(folder.tokenizer.decode(e.ids)).toBe(e.text);
    });

    it.each(
      c.chats.map((chat) => [`${chat.name}, generation prompt ${chat.addGenerationPrompt}`, chat] as const),
    )('renders the template (%s) as transformers does, to the same ids', (_, chat) => {
      const text = folder.renderChat(chat.messages, { addGenerationPrompt: chat.addGenerationPrompt });
      expect(text).toBe(chat.text);
      expect(folder.tokenizer.encode(text)).toEqual(chat.ids);
      expect(renderChatTemplate(c.template, chat.messages, chat)).toBe(chat.text);
    });

    it('qwenPromptText puts the image before the question, under the template’s system turn', () => {
      const [imageText] = c.chats;
      const question = (imageText!.messages[0]!.content as { type: string; text?: string }[])[1]!.text!;
      const text = qwenPromptText(c.template, question, { image: true });
      expect(text).toBe(imageText!.text);
      expect(text).toContain(`<|vision_start|><|image_pad|><|vision_end|>${question}<|im_end|>`);
      expect(text.startsWith('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n')).toBe(true);
      expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
      expect(folder.chat.render(question)).toBe(text);
      const withSystem = c.chats.find((x) => x.name === 'system+image+text' && x.addGenerationPrompt)!;
      expect(
        qwenPromptText(c.template, 'Where is the dog?', {
          system: withSystem.messages[0]!.content as string,
        }),
      ).toBe(withSystem.text);
      expect(qwenPromptText(c.template, 'Hi there', { image: false })).toBe(
        c.chats.find((x) => x.name === 'text only' && x.addGenerationPrompt)!.text,
      );
    });

    it.each(c.expanded.map((e) => [e.grids.map((g) => `[${g.join(', ')}]`).join(' + '), e] as const))(
      'input ids for grid %s: the pad expanded as the processor does',
      (_, e) => {
        const grids = e.grids.length === 1 ? e.grids[0]! : e.grids;
        const ids = qwenInputIds(folder.tokenizer, e.text, grids, folder.imageProcessor.mergeSize);
        expect(ids).toEqual(e.ids);
        const pads = e.grids.reduce((n, [t, h, w]) => n + (t * h * w) / 4, 0);
        expect(ids.filter((id) => id === imagePadId)).toHaveLength(pads);
      },
    );
  },
);

describe('expandImagePads', () => {
  it('repeats each pad t·h·w/merge² times, images in order', () => {
    expect(expandImagePads([1, imagePadId, 2], [1, 4, 2])).toEqual([1, ...Array(2).fill(imagePadId), 2]);
    expect(
      expandImagePads(
        [imagePadId, 9, imagePadId],
        [
          [1, 2, 2],
          [1, 4, 4],
        ],
      ),
    ).toEqual([imagePadId, 9, ...Array(4).fill(imagePadId)]);
  });

  it('a prompt without its pad, or with a pad per image missing, is refused', () => {
    expect(() => expandImagePads([1, 2], [1, 2, 2])).toThrow(/no <\|image_pad\|>.*<\|vision_start\|>/);
    expect(() => expandImagePads([imagePadId, imagePadId], [1, 2, 2])).toThrow(
      'the prompt has 2 <|image_pad|> for 1 image: one each',
    );
    expect(() => expandImagePads([imagePadId], [1, 3, 3])).toThrow(/does not divide into 2×2 merges/);
  });
});
