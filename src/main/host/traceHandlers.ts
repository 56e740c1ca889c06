/** The Traces view's services behind the contract (traceContract.ts): GRPO rollouts by step, group, search. */
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';
import type { traceCalls } from '../../shared/traceContract';

export function createTraceHandlers(ctx: HostContext): Pick<Handlers, keyof typeof traceCalls> {
  void ctx;
  return {};
}
