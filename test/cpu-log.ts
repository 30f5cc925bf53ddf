/**
 * With ENCLAVE_TEST_CPU_LOG=<file> (vitest.config.ts adds this set-up file then), each test file appends
 * one JSON line there: its wall time and the CPU it used, from its import to its last hook, in its test
 * process (every thread: worker_threads runs count) and in the child processes it started and waited for
 * (Linux: /proc/self/stat's cutime and cstime; elsewhere 0). Vitest's own report has each file's wall
 * time only, which on a loaded 2-core machine says how long a file waited as much as what it costs: the
 * CPU says which files a change must make cheaper for the whole CI to take less.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';

const log = process.env.ENCLAVE_TEST_CPU_LOG ?? '';

/** CPU seconds of the child processes reaped so far (Linux), else 0. */
function childrenCpu(): number {
  try {
    // The command name (field 2) may hold spaces: the fields after it start past its last ')'.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime and cstime are fields 16 and 17, in clock ticks (100 a second on Linux).
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

function snapshot(): { wall: number; self: number; children: number } {
  const { user, system } = process.cpuUsage();
  return { wall: performance.now(), self: (user + system) / 1e6, children: childrenCpu() };
}

// Taken as this module runs, before the test file is imported (set-up files run first, once per file).
const start = snapshot();
afterAll(() => {
  if (log === '') return;
  const end = snapshot();
  const file = expect.getState().testPath ?? '';
  const round = (n: number) => Math.round(n * 100) / 100;
  appendFileSync(
    log,
    `${JSON.stringify({ file: file.replace(`${process.cwd()}/`, ''), node: process.versions.node, wallS: round((end.wall - start.wall) / 1000), cpuS: round(end.self - start.self), childrenCpuS: round(end.children - start.children) })}\n`,
  );
});
