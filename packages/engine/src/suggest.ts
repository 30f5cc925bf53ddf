// Names longer than this get no edit distance: the cost is quadratic in length, and such names are not typos.
const MAX_LENGTH = 48;

/** Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`. */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = Array.from({ length: b.length + 1 }, () => 0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > limit) return limit + 1;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] as number;
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
