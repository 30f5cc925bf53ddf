import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/** One Node version's results: counts, and a line for each failure (the first 20 tests, every broken file). */
interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

const firstLine = (text: unknown): string => String(text ?? '').split('\n')[0]?.slice(0, 200) ?? '';

/**
 * Writes, to the file ENCLAVE_CI_SUMMARY names, each Node version's counts of one Vitest run whose
 * projects include other Node versions (`name@22`; see vitest.config.ts), which Vitest's JSON report
 * does not tell apart. A file that fails to load has no tests of its own and counts as one failure; so
 * does an error no test caught.
 */
export default class CiSummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<{ message?: unknown }>): void {
    const file = process.env.ENCLAVE_CI_SUMMARY;
    if (file === undefined || file === '') return;
    const here = process.versions.node.split('.')[0] ?? '';
    const byNode: Record<string, Tally> = {};
    const tally = (node: string): Tally => (byNode[node] ??= { passed: 0, failed: 0, skipped: 0, failures: [] });
    for (const m of modules) {
      const name = m.project.name;
      const node = name.includes('@') ? name.slice(name.indexOf('@') + 1) : here;
      const t = tally(node);
      let tests = 0;
      let shown = 0;
      for (const test of m.children.allTests()) {
        tests++;
        const result = test.result();
        if (result.state === 'passed') t.passed++;
        else if (result.state === 'failed') {
          t.failed++;
          if (shown++ < 20) t.failures.push(`node-${node} ${m.relativeModuleId} > ${test.fullName}: ${firstLine(result.errors?.[0]?.message)}`);
        } else t.skipped++;
      }
      if (tests === 0 && m.state() === 'failed') {
        t.failed++;
        t.failures.push(`node-${node} ${m.relativeModuleId}: ${firstLine(m.errors()[0]?.message)}`);
      }
    }
    for (const e of unhandledErrors) {
      const t = tally(here);
      t.failed++;
      t.failures.push(`an error outside any test: ${firstLine(e.message)}`);
    }
    writeFileSync(file, JSON.stringify(byNode));
  }
}
