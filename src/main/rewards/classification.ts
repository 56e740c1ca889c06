/**
 * Classification accuracy: 1 iff the normalised answer equals the normalised label or one of its
 * synonyms. Exact, not the published substring test (under which "A or B or C" and an empty
 * answer score 1).
 */
import { labelMatches } from '../../shared/labels';

export interface LabelSolution {
  label: string;
  synonyms?: string[];
}

export function classificationAccuracy(answer: string, solution: LabelSolution): number {
  return labelMatches(answer, solution.label, solution.synonyms) ? 1 : 0;
}
