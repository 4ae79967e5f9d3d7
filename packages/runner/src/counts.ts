/** How many of a run's actions ended which way. */
export interface RunCounts {
  /** Actions in the recording. */
  total: number;
  passed: number;
  failed: number;
  /** Optional actions that failed. */
  skipped: number;
}

/** Counts results by status; actions never run (after a failure, abort or timeout) are in `total` only. */
export function countResults(
  total: number,
  results: readonly { status: "passed" | "failed" | "skipped" }[],
): RunCounts {
  const counts = { total, passed: 0, failed: 0, skipped: 0 };
  for (const result of results) counts[result.status] += 1;
  return counts;
}

/**
 * What is wrong with `counts` for a run ending with `outcome`, or null when they are consistent:
 * never more results than actions, and a pass only when every action passed or was skipped and
 * none failed. Checked on every result, so a runner bug cannot turn into a false pass.
 */
export function countsProblem(counts: RunCounts, outcome: string): string | null {
  const reported = counts.passed + counts.failed + counts.skipped;
  if (reported > counts.total) return `${reported} results reported for ${counts.total} actions`;
  if (outcome === "passed" && (counts.failed > 0 || counts.passed + counts.skipped !== counts.total)) {
    return `a passing run must pass or skip all ${counts.total} actions, but ${counts.passed} passed, ${counts.skipped} were skipped and ${counts.failed} failed`;
  }
  return null;
}
