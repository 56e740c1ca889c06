/** Qwen2-VL / Qwen2.5-VL behind the Policy interface (being built: issue 23). */
import { UserError } from '../../../shared/errors';
import type { Policy } from '../policy';

export const QwenPolicy = {
  load(dir: string, _options: unknown): Policy {
    throw new UserError('invalid_input', `${dir}: Qwen models cannot be trained or evaluated yet`);
  },
};
