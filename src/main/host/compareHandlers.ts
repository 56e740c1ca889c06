/** The Compare view's services behind the contract (compareContract.ts): tables and side-by-side answers. */
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';
import type { compareCalls } from '../../shared/compareContract';

export function createCompareHandlers(ctx: HostContext): Pick<Handlers, keyof typeof compareCalls> {
  void ctx;
  return {};
}
