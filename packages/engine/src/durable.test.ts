import { describe, expect, it } from 'vitest';
import { readJournal } from './durable.js';
import { MAX_STRING_CHARS } from './sandbox/realm-abi.js';

/** A journal as this engine writes it, with one answered call whose result text is `payload`. */
const journal = (payload: string) => ({ v: 1, key: 'k', logs: 0, pauses: 1, calls: [[1, 't', '[]', 1, payload]], nd: [], pending: [2, 't', '[]'] });
const limits = { maxJournalBytes: 2 ** 27, maxPauses: 4 };

describe('readJournal', () => {
  it('refuses a replayed result with a string longer than a realm string may be, which no tool result could have', () => {
    expect(readJournal(journal(JSON.stringify({ page: 'a'.repeat(MAX_STRING_CHARS + 1) })), limits)).toBeUndefined();
  });

  it('keeps one with a string of exactly that length', () => {
    expect(readJournal(journal(JSON.stringify({ page: 'a'.repeat(MAX_STRING_CHARS) })), limits)?.calls).toHaveLength(1);
  });
});
