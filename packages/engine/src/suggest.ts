// Names longer than this get no edit distance: such names are not typos.
const MAX_LENGTH = 48;

/**
 * "Did you mean" work is a scan of every candidate name: only this many names get suggestions per run
 * (unknown tools called), per check (unknown tools named) and per validation (unknown globals). A script
 * that names thousands of near misses of a large tool set made the host compare each with every tool:
 * 1,000 unknown calls against 3,000 tools held the host's thread for 51 s in one run.
 */
export const MAX_SUGGESTED_NAMES = 10;

/**
 * Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`. Only the cells
 * within `limit` of the diagonal can lead to a distance within it, so only those are computed:
 * O(length x limit), not O(length^2).
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  const over = limit + 1;
  const m = b.length;
  let prev = Array.from({ length: m + 2 }, (_, j) => (j <= limit ? j : over));
  let cur = Array.from({ length: m + 2 }, () => over);
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - limit);
    const hi = Math.min(m, i + limit);
    cur[0] = i <= limit ? i : over;
    // The cells just outside the band read as out of reach (they may hold values of an older row).
    cur[lo - 1] = lo === 1 ? (cur[0] as number) : over;
    cur[hi + 1] = over;
    let rowMin = lo === 1 ? (cur[0] as number) : over;
    for (let j = lo; j <= hi; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost, over);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > limit) return over;
    [prev, cur] = [cur, prev];
  }
  return Math.min(prev[m] as number, over);
}

export interface CloseNamesOptions {
  /** How many names at most (default 3). */
  max?: number;
  /**
   * Also count a candidate that contains `name`, or is contained in it, as close. Tool names are
   * namespaced (`users:list`), so `list` or `users:list:all` most likely meant that tool; script
   * identifiers are not, and a short one is contained in too many names to help.
   */
  partial?: boolean;
}

/**
 * The "did you mean" candidates for `name`, used for unknown globals and unknown tools alike: same
 * spelling ignoring case, or a small edit distance (none below 3 characters, 1 below 5, 2 below 9, then
 * 3), or with `partial` a containment. Closest first, then alphabetical.
 */
export function closeNames(name: string, candidates: Iterable<string>, options: CloseNamesOptions = {}): string[] {
  const { max = 3, partial = false } = options;
  const lower = name.toLowerCase();
  const limit = name.length >= 9 ? 3 : name.length >= 5 ? 2 : name.length >= 3 ? 1 : 0;
  const scored: { name: string; d: number }[] = [];
  for (const c of candidates) {
    if (c === name) continue;
    const cl = c.toLowerCase();
    const contained = partial && (cl.includes(lower) || lower.includes(cl));
    // A case-only difference (`json` for `JSON`) is the likeliest slip, so it ranks first.
    const d = cl === lower ? 0 : contained ? 1 : name.length > MAX_LENGTH || c.length > MAX_LENGTH ? limit + 1 : editDistance(lower, cl, limit);
    if (d <= limit || contained) scored.push({ name: c, d });
  }
  scored.sort((x, y) => x.d - y.d || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return scored.slice(0, max).map((s) => s.name);
}
