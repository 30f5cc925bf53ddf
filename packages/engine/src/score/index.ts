import type { SecurityLevel } from '../levels.js';
import { LEVEL_CONFIGS, SECURITY_LEVELS } from '../levels.js';
import { OptionChecker } from '../options.js';
import { bytesOver } from '../scan/index.js';
import type { ParsedSource } from '../ast/parse.js';
import { parseAgentScript } from '../ast/parse.js';
import { LruCache, textSize } from '../source.js';
import { extractFeatures } from './features.js';
import type { ResolvedExternal, ResolvedGate } from './options.js';
import { resolveScoringGate } from './options.js';
import { computeSignals } from './signals.js';
import type { ExternalVerdict, ScoringDecision, ScoringResult, ScoringSignal, ScoringWarning, ToolRisk } from './types.js';

export { SCORING_DEFAULTS, resolveScoringGate } from './options.js';
export type { ResolvedGate } from './options.js';
export { SIGNAL_WEIGHTS } from './signals.js';
export type * from './types.js';

/** The rule-based verdict on one script, with what an external scorer is told about it. */
export interface RuleVerdict {
  result: ScoringResult;
  /** Tool names known before the run, in order of first use. */
  tools: readonly string[];
}

type Thresholds = Pick<ResolvedGate, 'warn' | 'block'>;

export function decide(score: number, t: Thresholds): ScoringDecision {
  return score >= t.block ? 'block' : score >= t.warn ? 'warn' : 'allow';
}

function frozen(score: number, decision: ScoringDecision, signals: readonly ScoringSignal[]): ScoringResult {
  for (const s of signals) {
    if (s.location) Object.freeze(s.location);
    Object.freeze(s);
  }
  return Object.freeze({ score, decision, signals: Object.freeze([...signals]) });
}

/** Layer 3 on an already parsed (and validated) script: features, signals, score and decision. */
export function scoreParsed(parsed: ParsedSource, gate: Pick<ResolvedGate, 'warn' | 'block' | 'tools' | 'trustedDomains'>): RuleVerdict {
  let signals: ScoringSignal[];
  let tools: string[];
  try {
    const features = extractFeatures(parsed, gate.tools);
    signals = computeSignals(parsed, features, { trustedDomains: gate.trustedDomains });
    tools = [...new Set(features.calls.map((c) => c.name).filter((n): n is string => n !== undefined))];
  } catch {
    // A bug here must not wave code through: it blocks, and says so.
    signals = [{ id: 'scorer-error', weight: 100, message: 'The scoring gate could not analyse this script.', location: { line: 1, column: 1 } }];
    tools = [];
  }
  const score = Math.min(100, signals.reduce((sum, s) => sum + s.weight, 0));
  return { result: frozen(score, decide(score, gate), signals), tools: Object.freeze(tools) };
}

export interface ScoreOptions {
  /** Thresholds come from this level (default `'STANDARD'`). */
  securityLevel?: SecurityLevel;
  thresholds?: { warn?: number; block?: number };
  tools?: Readonly<Record<string, ToolRisk>>;
  trustedDomains?: readonly string[];
}

/**
 * The scoring gate's rule-based verdict on a script, without running it (no external scorer). Returns
 * undefined when the code does not parse, or is larger than the level's `maxCodeBytes` (it is not read
 * then, as `run()` reads no further); `checkAgentScript` says why. Use it to show an agent why a script
 * would be refused.
 *
 * @example
 * ```ts
 * const r = scoreAgentScript(code, { securityLevel: 'STRICT', trustedDomains: ['example.com'] });
 * if (r && r.decision !== 'allow') for (const s of r.signals) console.log(`${s.location?.line}: +${s.weight} ${s.message}`);
 * ```
 */
export function scoreAgentScript(code: string, options: ScoreOptions | null = {}): ScoringResult | undefined {
  // Checked as new Enclave() checks its scoringGate: a level of no table threw a TypeError from inside.
  const check = new OptionChecker('scoreAgentScript(code, options)');
  const o = check.object('options', options ?? undefined) ?? {};
  check.knownKeys('', o, SCORE_OPTION_NAMES);
  if (typeof code !== 'string') check.fail(`code must be a string, got ${code === null ? 'null' : typeof code}.`);
  const level = check.oneOf('securityLevel', o.securityLevel, SECURITY_LEVELS, 'STANDARD') ?? 'STANDARD';
  const gate = resolveScoringGate(check, { thresholds: o.thresholds, tools: o.tools, trustedDomains: o.trustedDomains }, level) as ResolvedGate;
  if (bytesOver(code, LEVEL_CONFIGS[level].scan.maxCodeBytes) !== undefined) return undefined;
  const parsed = parseAgentScript(code);
  if (parsed.syntaxErrors.length > 0) return undefined;
  return scoreParsed(parsed, gate).result;
}

const SCORE_OPTION_NAMES = ['securityLevel', 'thresholds', 'tools', 'trustedDomains'] as const;

class ScorerTimeout extends Error {}
class BadVerdict extends Error {}

function readVerdict(v: ExternalVerdict): { score: number; reason: string | undefined } {
  const score = typeof v === 'number' ? v : v !== null && typeof v === 'object' ? v.score : undefined;
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 100) throw new BadVerdict();
  const reason = typeof v === 'object' && typeof v.reason === 'string' && v.reason.length > 0 ? v.reason.slice(0, 300) : undefined;
  return { score, reason };
}

/**
 * The gate of one Enclave: rule verdicts (cached by the Enclave with the rest of its checks) combined
 * with an optional external scorer, whose verdicts it caches by code and whose concurrent requests
 * for the same code it shares.
 */
export class ScoringGate {
  readonly config: ResolvedGate;
  readonly #verdicts = new LruCache<string, ScoringResult>(500, 2 * 1024 * 1024, textSize);
  readonly #pending = new Map<string, Promise<ScoringResult>>();

  constructor(config: ResolvedGate) {
    this.config = config;
  }

  rules(parsed: ParsedSource): RuleVerdict {
    return scoreParsed(parsed, this.config);
  }

  /** The final verdict: the rule verdict itself unless an external scorer is configured. */
  judge(code: string, verdict: RuleVerdict): ScoringResult | Promise<ScoringResult> {
    const ext = this.config.external;
    if (!ext) return verdict.result;
    // With 'max', nothing the external scorer says can lift a block.
    if (ext.combine === 'max' && verdict.result.decision === 'block') return verdict.result;
    const hit = this.#verdicts.get(code);
    if (hit) return hit;
    const pending = this.#pending.get(code);
    if (pending) return pending;
    const p = this.#ask(code, verdict, ext).finally(() => this.#pending.delete(code));
    this.#pending.set(code, p);
    return p;
  }

  /** Calls `onWarn` without awaiting it; nothing it does can affect the run. */
  warn(warning: ScoringWarning): void {
    const hook = this.config.onWarn;
    if (!hook) return;
    try {
      const r: unknown = hook(warning);
      if (r instanceof Promise) r.catch(() => {});
    } catch {
      // A failing hook is the host's bug; the run goes on.
    }
  }

  async #ask(code: string, verdict: RuleVerdict, ext: ResolvedExternal): Promise<ScoringResult> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new ScorerTimeout());
      }, ext.timeout);
      timer.unref?.();
    });
    const rules = verdict.result;
    try {
      const asked = Promise.resolve().then(() => ext.score({ code, rules, tools: verdict.tools, signal: controller.signal }));
      const { score: extScore, reason } = readVerdict(await Promise.race([asked, deadline]));
      const score = Math.round(ext.combine === 'max' ? Math.max(rules.score, extScore) : (rules.score + extScore) / 2);
      const signal: ScoringSignal = { id: 'external-scorer', weight: Math.round(extScore), message: reason ?? `The external scorer rated the script ${Math.round(extScore)}/100.` };
      const result = frozen(score, decide(score, this.config), [...rules.signals, signal].sort((a, b) => b.weight - a.weight));
      this.#verdicts.set(code, result);
      return result;
    } catch (e) {
      // Failures are not cached: the next run of the same code asks again.
      const what =
        e instanceof ScorerTimeout
          ? `timed out after ${ext.timeout} ms`
          : e instanceof BadVerdict
            ? 'returned an invalid verdict (expected a number from 0 to 100 or { score, reason? })'
            : 'failed';
      const open = ext.failMode === 'open';
      const signal: ScoringSignal = {
        id: 'external-scorer-failed',
        weight: 0,
        message: `The external scorer ${what}; failMode "${ext.failMode}" ${open ? 'decides on the rule score alone' : 'blocks the run'}.`,
      };
      return frozen(rules.score, open ? rules.decision : 'block', [...rules.signals, signal]);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}
