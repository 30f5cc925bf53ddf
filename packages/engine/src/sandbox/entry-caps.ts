/**
 * What one run's entries may hold in all, as a realm writes them: a worker thread or a runtime node that
 * reports more is not running our realm (a script that escaped into its thread, a forged node) and is
 * not believed. Both the worker pool and the app's side of runtime nodes hold every entry of a run to
 * these caps, before anything of it is acted on.
 */
import { jsonWithin } from '../sanitize/codec.js';
import type { EntryCall, EntryEnd, EntryLog, IsolatedJob } from './isolation.js';
import type { ToolReply } from './realm-abi.js';

/** A realm's report: its kind, texts, location, tool error and counts (a dozen values, three levels), with room. */
const REPORT_VALUES = 64;
const REPORT_DEPTH = 8;

/**
 * The most values (array elements and properties, see jsonWithin) one message about a run may hold: its
 * tuple and end, and each tool call (4), console line (3) and value of the clock or Math.random() (3)
 * the run may report in all. JSON.parse of a message is otherwise bounded by its size only: a 27 MB
 * message of `{}` (the STANDARD level's cap) took 600 MB of the host's heap.
 */
export function entryValues(job: Pick<IsolatedJob, 'limits' | 'maxNd'>): number {
  const { maxToolCalls, maxLogEntries } = job.limits;
  return 16 + 4 * (maxToolCalls + 1) + 3 * (maxLogEntries + 1) + 3 * (job.maxNd ?? 0);
}

/** One run's running totals against its caps. */
export class EntryCaps {
  /** The most values one message about the run may hold (see entryValues), to count before it is parsed. */
  readonly maxValues: number;
  readonly #limits: IsolatedJob['limits'];
  #entries = 0;
  #logEntries = 0;
  #logChars = 0;
  /**
   * The public data of each failed tool call's reply sent to the run, as the realm writes it in its report
   * (its JSON again): the only texts a report's tool error data may be.
   */
  readonly #errorData = new Set<string>();

  constructor(job: Pick<IsolatedJob, 'limits' | 'maxNd'>) {
    this.#limits = job.limits;
    this.maxValues = entryValues(job);
  }

  /** A tool's reply as it goes to the run: a failed call's data is what a report may carry back as its own. */
  replied(reply: ToolReply): void {
    if (reply[0] !== 0) return;
    try {
      // The host's own text ([name, message, code, data?]); the realm parses it and writes `data` so.
      const data: unknown = (JSON.parse(reply[1]) as unknown[])[3];
      if (data !== null && typeof data === 'object') this.#errorData.add(JSON.stringify(data));
    } catch {
      // Not one the realm could read either: it carries no data back.
    }
  }

  /**
   * Whether one more entry of the run stays within what its realm can write: no more entries than its
   * start and one per delivery of replies, no tool call's arguments longer than `maxToolArgsBytes`, no
   * value longer than `maxOutputBytes` (both as the text's length; the realm counts UTF-8 bytes, never
   * fewer), the console lines within their caps, a report of a handful of fields whose tool error data
   * is that of a failed reply the run was sent. Beyond them an isolation handed a tool arguments of any
   * size, and the caller a result of any size (5 MB with maxOutputBytes 1000), or tool error data of its
   * own choosing (a `status` the HTTP core answers with), which only had to be no longer than a reply.
   */
  within(entry: { calls: readonly EntryCall[]; logs: readonly EntryLog[]; end: EntryEnd | null }): boolean {
    const { maxToolCalls, maxLogEntries, maxLogBytes, maxToolArgsBytes, maxOutputBytes } = this.#limits;
    // Each entry follows the start or a delivery of replies (one per call at most, and a cancel).
    if (++this.#entries > maxToolCalls + 3) return false;
    this.#logEntries += entry.logs.length;
    for (const [, line] of entry.logs) this.#logChars += line.length;
    // One more entry: the cap's own notice.
    if (entry.calls.length > maxToolCalls + 1 || this.#logEntries > maxLogEntries + 1 || this.#logChars > maxLogBytes + 1024) return false;
    for (const call of entry.calls) if (call[2].length > maxToolArgsBytes) return false;
    const { end } = entry;
    if (end?.kind !== 'report') return true;
    // Measured before anything parses it (the driver does), and its tool error's data the data of one of
    // the host's own failed replies again, text for text.
    if (end.value.length > maxOutputBytes || !jsonWithin(end.report, REPORT_DEPTH, REPORT_VALUES)) return false;
    try {
      const tool: unknown = (JSON.parse(end.report) as { tool?: unknown }).tool;
      const data: unknown = tool !== null && typeof tool === 'object' ? (tool as { data?: unknown }).data : undefined;
      return typeof data !== 'string' || this.#errorData.has(data);
    } catch {
      return false;
    }
  }
}
