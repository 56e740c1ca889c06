/**
 * A model family's own task prompts and answer format. The prompt a policy was trained on is the
 * one it answers best (tiny-vlm's short questions; Visual-RFT's prompt for Qwen2-VL; VLM-R1's for
 * Qwen2.5-VL), so prompts belong to the policy: SFT targets, GRPO prompts and evaluation all ask
 * `policy.prompts`, and always agree.
 */
import type { Box, Size } from '../../shared/boxes';

export interface TaskPrompts {
  detection(category: string): string;
  classification(): string;
  /** Referring expression: the one region `expression` describes. */
  rec(expression: string): string;
  /** Open-vocabulary detection of several categories at once. */
  ovd(categories: readonly string[]): string;
  /**
   * The answer naming these boxes (original-image pixels) the way the model writes one, in its
   * frame; `resized` is the model's input size (for a frame in resized pixels).
   */
  boxesAnswer(
    boxes: readonly (Box & { confidence?: number; label?: string })[],
    image: Size,
    resized: Size,
  ): string;
  /** The whole completion: thinking, then the answer. */
  completion(think: string, answer: string): string;
}
