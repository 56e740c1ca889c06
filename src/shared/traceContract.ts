/** The Traces view's calls (GRPO rollouts: steps, groups, search), spread into contract.ts's `calls`. */
export const traceCalls = {} as const;
