/** The Compare view's calls (tables, side-by-side answers), spread into contract.ts's `calls`. */
export const compareCalls = {} as const;
