/** A position in the user's own source: 1-based line and column. */
export interface ScoringLocation {
  line: number;
  column: number;
}

/** One reason the script scored what it did. */
export interface ScoringSignal {
  /** Stable kebab-case id, e.g. `data-to-egress`, `sensitive-name`. */
  id: string;
  /** Points this signal adds to the rule score (0-100 in total). */
  weight: number;
  /** What was seen and why it matters, in one or two sentences. */
  message: string;
  /** Where it was seen, in the user's source. Absent for signals about the whole script (external scorer). */
  location?: ScoringLocation;
}

export type ScoringDecision = 'allow' | 'warn' | 'block';

/** The gate's verdict on one script, as it appears on `ExecutionResult.scoring`. */
export interface ScoringResult {
  /** 0-100: the rule score, combined with the external scorer's when one is configured. */
  score: number;
  decision: ScoringDecision;
  /** Strongest first. */
  signals: readonly ScoringSignal[];
}

/**
 * What the gate knows about a tool. Without an entry, a tool is judged by its name (`email:send` sends,
 * `users:delete` destroys, `users:list` reads in bulk); an entry overrides the name.
 */
export interface ToolRisk {
  /** True: the tool changes something (a sink). False: it only reads, whatever its name says. */
  sideEffect?: boolean;
  /** Refines the kind; see `TOOL_RISK_TAGS`. */
  tags?: readonly ToolRiskTag[];
}

/**
 * - `egress`: data leaves your system (mail, chat, webhooks, HTTP, uploads, exports). Aliases: `send`,
 *   `email`, `post`, `webhook`, `upload`, `export`, `notify`.
 * - `destructive`: deletes or overwrites. Alias: `delete`.
 * - `write`: changes internal state.
 * - `read`: reads only.
 * - `bulk`: reads many records at once.
 * - `sensitive`: its results are sensitive (credentials, identity or payment data).
 * - `privileged`: changes permissions, roles, keys or security settings.
 */
export type ToolRiskTag =
  | 'egress'
  | 'send'
  | 'email'
  | 'post'
  | 'webhook'
  | 'upload'
  | 'export'
  | 'notify'
  | 'destructive'
  | 'delete'
  | 'write'
  | 'read'
  | 'bulk'
  | 'sensitive'
  | 'privileged';

/** What an external scorer is given: the script and the rule-based verdict on it. */
export interface ExternalScoreRequest {
  code: string;
  /** The rule-based score and its signals. */
  rules: ScoringResult;
  /** Tool names the script calls with a name known before it runs, in order of first use. */
  tools: readonly string[];
  /** Aborted when the scorer's timeout passes or the run is aborted. */
  signal: AbortSignal;
}

/** A 0-100 score, or a score with a reason that becomes the message of its signal. */
export type ExternalVerdict = number | { score: number; reason?: string };

/** An external model or service that scores scripts. */
export type ExternalScorerFn = (request: ExternalScoreRequest) => Promise<ExternalVerdict> | ExternalVerdict;

export interface ExternalScorerOptions {
  score: ExternalScorerFn;
  /** Milliseconds to wait for a verdict. Default 1000. */
  timeout?: number;
  /**
   * What a timeout, an error or a malformed verdict means: `'closed'` (default) blocks the run,
   * `'open'` decides on the rule score alone. Either way a signal says what happened.
   */
  failMode?: 'open' | 'closed';
  /** How the two scores combine: `'max'` (default: either can raise it) or `'mean'`. */
  combine?: 'max' | 'mean';
}

/** What `onWarn` receives. */
export interface ScoringWarning {
  scoring: ScoringResult;
  code: string;
  /** The run's `RunOptions.context` (for example the request's user). */
  context: unknown;
}

/**
 * `scoringGate` option of `new Enclave(...)`: `true` turns the gate on with the level's thresholds,
 * `false` turns it off, an object turns it on and tunes it.
 */
export interface ScoringGateOptions {
  /** Scores at or above `warn` go to `onWarn`; at or above `block` the run is refused. */
  thresholds?: { warn?: number; block?: number };
  /** Called (not awaited) for every run whose decision is `warn`; its errors are ignored. */
  onWarn?: (warning: ScoringWarning) => void;
  /** What the gate knows about your tools, by exact name. */
  tools?: Readonly<Record<string, ToolRisk>>;
  /**
   * Hosts (and their subdomains) that are yours: URLs and e-mail addresses there are not treated as
   * outside destinations, e.g. `['example.com']`.
   */
  trustedDomains?: readonly string[];
  /** An external model or service, combined with the rule score. A function takes the defaults. */
  scorer?: ExternalScorerFn | ExternalScorerOptions;
}
