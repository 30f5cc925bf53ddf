/**
 * `enclave check`: the engine's checking stages without running anything. Calling `Enclave.run` with a
 * tiny timeout would still execute the script (and call tools); this runs only the pure stages, in the
 * order and with the stop points `Enclave.run` uses, so a file `check` passes is a file `run` accepts.
 */
import type { SecurityLevel } from '../levels.js';
import { checkAgentScript } from '../pipeline.js';
import type { CheckIssue } from '../pipeline.js';

/**
 * Every problem that would make `Enclave.run` reject `code` at `level`: the engine's own
 * `checkAgentScript`, so `check` and `run` cannot disagree. Each is an `error` (`run()` refuses the
 * script), in the shape `enclave.check()` and `POST {path}/check` report issues in.
 *
 * @param extraGlobals names the host will pass as `globals` (they become readable identifiers).
 */
export function checkSource(code: string, level: SecurityLevel = 'STANDARD', extraGlobals: readonly string[] = []): CheckIssue[] {
  const r = checkAgentScript(code, { securityLevel: level, globals: extraGlobals });
  return r.ok ? [] : r.issues.map((issue) => ({ ...issue, severity: 'error' }));
}
