/**
 * Each Vitest project runs its files on the Node version it names (vitest.config.ts: `shared@22` in test
 * processes of Node 22, see test/node-pool.ts), so that a Vitest upgrade that starts its test processes
 * otherwise cannot turn the Node 22 and 24 runs into three runs on one Node without anyone noticing.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    nodeMajor: string;
  }
}

describe('the Node version of this project', () => {
  it('runs its test processes, and the node its tests start, on the version it names', () => {
    const major = inject('nodeMajor');
    expect(process.versions.node.split('.')[0]).toBe(major);
    expect(execFileSync('node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.')[0]).toBe(major);
  });
});
