/**
 * `search_tools`: keywords to the tools of a catalog, best first. A small, predictable ranking for
 * catalogs of tens to a few thousand tools, explained in the package README:
 *
 * - The query and each tool are cut into words: `orders:listPaid` gives `orders`, `list`, `paid`.
 *   Words are compared by a light stem (`orders` ~ `order`, `listing` ~ `list`), lowercase.
 * - A query word scores, per tool, the best of: a word of the name (3), the start of a word of the name
 *   (2), an argument's name or one of its enum values (1.5), a word of the description or of an
 *   argument's description (1), the start of one (0.5).
 * - Each word's score is weighted by how rare it is in the catalog (`ln(1 + tools / tools it matches)`),
 *   so `list` counts less than `invoice` when every tool lists something.
 * - The sum is scaled by the share of query words the tool matches (a tool matching all of them beats
 *   one matching a single word very well), and the exact name as the query wins outright.
 * - Ties go to the shorter name, then alphabetical order, so results never depend on catalog order.
 */
import type { ToolDescription } from '@enclave-kit/engine';

/** One hit: the tool, its one-line description, and its score (higher is better). */
export interface ToolMatch {
  name: string;
  description: string;
  score: number;
}

export interface SearchResult {
  /** The best `limit` matches, best first. */
  matches: ToolMatch[];
  /** How many tools matched at all (before `limit`). */
  matched: number;
  /** How many tools the catalog has. */
  total: number;
}

const WEIGHT = { name: 3, namePrefix: 2, argument: 1.5, description: 1, descriptionPrefix: 0.5 } as const;
/** The exact tool name as the whole query: above any sum of word scores. */
const EXACT_NAME = 1000;
/** Words that say nothing about which tool is meant. */
const STOPWORDS = new Set(['a', 'an', 'and', 'are', 'by', 'for', 'from', 'i', 'in', 'is', 'it', 'of', 'on', 'or', 'the', 'to', 'with']);
/** The shortest word that may match the start of a longer one. */
const MIN_PREFIX = 3;
/**
 * Distinct query words ranked at most: ranking is synchronous work for each of them against every word
 * of every tool, and a model's query is a few words (a megabyte of them held the event loop for seconds).
 */
const MAX_QUERY_WORDS = 64;

/** A word without its common English endings: enough to meet `orders` with `order` and `listing` with `list`. */
export function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith('ed')) return word.slice(0, -2);
  if (word.length > 4 && /(?:ss|x|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

/** The stemmed words of a text: camelCase and any punctuation split words; stopwords are dropped. */
export function words(text: string): string[] {
  return text
    .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== '' && !STOPWORDS.has(w))
    .map(stem);
}

/** The first line of a description, which is what a list of tools shows. */
export function firstLine(description: string | undefined): string {
  return (description ?? '').split(/\r?\n/, 1)[0]?.trim() ?? '';
}

interface Indexed {
  tool: ToolDescription;
  name: ReadonlySet<string>;
  args: ReadonlySet<string>;
  description: ReadonlySet<string>;
}

/** The top-level arguments of an input schema: names, the string values of enums, descriptions. */
function argumentsOf(schema: Record<string, unknown> | undefined): { names: string[]; descriptions: string[] } {
  const properties = schema?.properties;
  if (properties === null || typeof properties !== 'object') return { names: [], descriptions: [] };
  const names: string[] = [];
  const descriptions: string[] = [];
  for (const [name, property] of Object.entries(properties as Record<string, unknown>)) {
    names.push(name);
    const p = (property ?? {}) as { enum?: unknown; description?: unknown };
    if (Array.isArray(p.enum)) names.push(...p.enum.filter((v): v is string => typeof v === 'string'));
    if (typeof p.description === 'string') descriptions.push(p.description);
  }
  return { names, descriptions };
}

function index(tool: ToolDescription): Indexed {
  const args = argumentsOf(tool.inputSchema);
  return {
    tool,
    name: new Set(words(tool.name)),
    args: new Set(args.names.flatMap(words)),
    description: new Set([tool.description ?? '', ...args.descriptions].flatMap(words)),
  };
}

/**
 * One field's words across the catalog: which tools hold each word, and the words in order, so that a
 * query word finds the tools it matches without visiting every tool. Scanning every word of every tool
 * for each query word made one `describe_tools` call (50 unknown names of 64 words each) hold the
 * event loop for 12 to 19 seconds over 2,000 tools.
 */
class WordIndex {
  readonly #tools = new Map<string, number[]>();
  readonly #sorted: string[];

  constructor(sets: readonly ReadonlySet<string>[]) {
    sets.forEach((set, i) => {
      for (const word of set) {
        const holders = this.#tools.get(word);
        if (holders === undefined) this.#tools.set(word, [i]);
        else holders.push(i);
      }
    });
    this.#sorted = [...this.#tools.keys()].sort();
  }

  /** The tools that hold `word` itself. */
  exact(word: string): readonly number[] {
    return this.#tools.get(word) ?? [];
  }

  /**
   * Calls `visit` for each tool holding another word that starts with `word` (when `word` has at least
   * MIN_PREFIX characters) or with which `word` starts (when that word has at least MIN_PREFIX).
   */
  prefixed(word: string, visit: (tool: number) => void): void {
    const visitWord = (w: string) => {
      if (w !== word) for (const tool of this.#tools.get(w) ?? []) visit(tool);
    };
    if (word.length >= MIN_PREFIX) {
      for (let i = this.#lowerBound(word); i < this.#sorted.length && (this.#sorted[i] as string).startsWith(word); i++) visitWord(this.#sorted[i] as string);
    }
    for (let length = MIN_PREFIX; length < word.length; length++) visitWord(word.slice(0, length));
  }

  #lowerBound(word: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#sorted[mid] as string) < word) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

interface CatalogIndex {
  tools: Indexed[];
  name: WordIndex;
  args: WordIndex;
  description: WordIndex;
}

function catalogIndex(tools: readonly ToolDescription[]): CatalogIndex {
  const indexed = tools.map(index);
  return {
    tools: indexed,
    name: new WordIndex(indexed.map((t) => t.name)),
    args: new WordIndex(indexed.map((t) => t.args)),
    description: new WordIndex(indexed.map((t) => t.description)),
  };
}

/**
 * How well one query word matches each tool it matches at all: the best of a word of the name (3), the
 * start of one (2), an argument's name or enum value (1.5), a word of the description (1), the start of one (0.5).
 */
function wordScores(catalog: CatalogIndex, word: string): Map<number, number> {
  const scores = new Map<number, number>();
  const raise = (tool: number, score: number) => {
    if ((scores.get(tool) ?? 0) < score) scores.set(tool, score);
  };
  for (const tool of catalog.name.exact(word)) raise(tool, WEIGHT.name);
  catalog.name.prefixed(word, (tool) => raise(tool, WEIGHT.namePrefix));
  for (const tool of catalog.args.exact(word)) raise(tool, WEIGHT.argument);
  for (const tool of catalog.description.exact(word)) raise(tool, WEIGHT.description);
  catalog.description.prefixed(word, (tool) => raise(tool, WEIGHT.descriptionPrefix));
  return scores;
}

const byRank = (a: ToolMatch, b: ToolMatch) => b.score - a.score || a.name.length - b.name.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The tools of `tools` that match `query`, best first, at most `limit`. A query without words (empty,
 * or only stopwords and punctuation) lists the catalog in name order; only its first 64 distinct words
 * are ranked.
 *
 * @example
 * ```ts
 * searchTools(enclave.describe(toolsFor(user)).tools, 'paid orders', 5).matches[0]?.name; // 'orders:list'
 * ```
 */
export function searchTools(tools: readonly ToolDescription[], query: string, limit = 10): SearchResult {
  return searcher(tools)(query, limit);
}

/**
 * `searchTools` over one catalog, indexed once for many queries (`describe_tools` suggests names for up
 * to 50 unknown ones). The catalog is read when this is called: later changes to it are not seen.
 */
export function searcher(tools: readonly ToolDescription[]): (query: string, limit?: number) => SearchResult {
  const catalog = catalogIndex(tools);
  return (query, limit = 10) => rank(catalog, query, limit);
}

function rank(catalog: CatalogIndex, query: string, limit: number): SearchResult {
  const indexed = catalog.tools;
  const queryWords = [...new Set(words(query))].slice(0, MAX_QUERY_WORDS);
  const line = (t: ToolDescription, score: number): ToolMatch => ({ name: t.name, description: firstLine(t.description), score });
  if (queryWords.length === 0) {
    const all = indexed.map((t) => line(t.tool, 0)).sort(byRank);
    return { matches: all.slice(0, limit), matched: all.length, total: indexed.length };
  }
  // Per tool: the rarity-weighted sum over the query words it matches, in their order, and their count.
  const sums = new Map<number, number>();
  const hits = new Map<number, number>();
  for (const word of queryWords) {
    const scores = wordScores(catalog, word);
    const rarity = Math.log(1 + indexed.length / scores.size);
    for (const [tool, score] of scores) {
      sums.set(tool, (sums.get(tool) ?? 0) + score * rarity);
      hits.set(tool, (hits.get(tool) ?? 0) + 1);
    }
  }
  const exact = query.trim().toLowerCase();
  const matches: ToolMatch[] = [];
  for (const [i, hit] of hits) {
    const t = indexed[i] as Indexed;
    const score = (sums.get(i) as number) * (0.5 + (0.5 * hit) / queryWords.length) + (t.tool.name.toLowerCase() === exact ? EXACT_NAME : 0);
    matches.push(line(t.tool, Math.round(score * 100) / 100));
  }
  matches.sort(byRank);
  return { matches: matches.slice(0, limit), matched: matches.length, total: indexed.length };
}
