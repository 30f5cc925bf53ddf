/**
 * The text `execute` answers with shows the first 4000 characters of the value. A value within the
 * run's output cap must not cost the host more than its own size to get them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Enclave } from '@enclave-kit/engine';
import { summarize } from '../src/summary.js';

describe('summarize', () => {
  afterEach(() => vi.restoreAllMocks());

  // 1300 copies of one array nested 250 deep: 652 KB of JSON, under SECURE's 1 MB output cap. Indented
  // two spaces a level, it is 165 million characters (1.3 s and 330 MB of heap on the main thread, per
  // call; at STANDARD's 4 MB near V8's longest string).
  const DEEP_AND_WIDE = 'let x = 0; for (let i = 0; i < 250; i++) x = [x]; const out = []; for (let k = 0; k < 1300; k++) out.push(x); return out;';

  it.each(['vm', 'worker_threads'] as const)('never builds text much larger than a value a script returned (%s)', async (adapter) => {
    const enclave = new Enclave({ securityLevel: 'SECURE', adapter });
    try {
      const result = await enclave.run(DEEP_AND_WIDE);
      expect(result.success).toBe(true);
      const compact = JSON.stringify(result.value).length;
      // Host-side canary: every string the host's JSON.stringify makes while summarizing.
      const made: number[] = [];
      const stringify = JSON.stringify;
      vi.spyOn(JSON, 'stringify').mockImplementation((...args: Parameters<typeof JSON.stringify>) => {
        const text = stringify(...args);
        made.push(text?.length ?? 0);
        return text;
      });
      const text = summarize(result);
      expect(Math.max(...made)).toBeLessThanOrEqual(compact);
      expect(text).toMatch(/^OK \(\d+ ms, 0 tool calls\)\. Value:\n\[\[\[\[/);
      expect(text).toContain(`more characters; the whole result is in structuredContent`);
    } finally {
      enclave.dispose();
    }
  });

  it('still indents a value that fits the text', () => {
    const text = summarize({ success: true, value: { orders: [1, 2] }, stats: { duration: 1, toolCallCount: 2, iterationCount: 0 } });
    expect(text).toBe('OK (1 ms, 2 tool calls). Value:\n{\n  "orders": [\n    1,\n    2\n  ]\n}');
  });
});
