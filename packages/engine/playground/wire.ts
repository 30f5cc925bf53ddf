/**
 * The answer of `POST {path}/check` as the page reads it. The page is bundled without the engine, so it
 * declares the shape itself; test/http/playground.test.ts checks that the engine's `CheckReport` fits it.
 */
export interface CheckIssue {
  ruleId: string;
  severity: 'error' | 'warning';
  message: string;
  hint?: string;
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  suggestions?: string[];
}

export interface CheckAnswer {
  ok: boolean;
  issues: CheckIssue[];
}
