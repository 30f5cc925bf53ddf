import type { SecurityLevel } from '../levels.js';
import type { OptionChecker } from '../options.js';
import { TOOL_RISK_TAGS } from './tools.js';
import type { ExternalScorerFn, ScoringWarning, ToolRisk } from './types.js';

/**
 * The gate's defaults per security level: on by default only at STRICT, where scripts are expected to
 * be small and a refused script is the lesser evil. Turn it on elsewhere with `scoringGate: true`.
 *
 * @example
 * ```ts
 * SCORING_DEFAULTS.STRICT; // { enabled: true, warn: 30, block: 60 }
 * new Enclave({ securityLevel: 'STANDARD', scoringGate: true }); // warn at 40, block at 70
 * ```
 */
export const SCORING_DEFAULTS: Readonly<Record<SecurityLevel, { readonly enabled: boolean; readonly warn: number; readonly block: number }>> = {
  STRICT: { enabled: true, warn: 30, block: 60 },
  SECURE: { enabled: false, warn: 40, block: 70 },
  STANDARD: { enabled: false, warn: 40, block: 70 },
  PERMISSIVE: { enabled: false, warn: 50, block: 80 },
};

export interface ResolvedExternal {
  score: ExternalScorerFn;
  timeout: number;
  failMode: 'open' | 'closed';
  combine: 'max' | 'mean';
}

/** A validated `scoringGate` option. */
export interface ResolvedGate {
  warn: number;
  block: number;
  onWarn: ((warning: ScoringWarning) => void) | undefined;
  tools: Readonly<Record<string, ToolRisk>> | undefined;
  trustedDomains: readonly string[] | undefined;
  external: ResolvedExternal | undefined;
}

const GATE_KEYS = ['thresholds', 'onWarn', 'tools', 'trustedDomains', 'scorer'];
const SCORER_KEYS = ['score', 'timeout', 'failMode', 'combine'];
const DEFAULT_EXTERNAL_TIMEOUT = 1000;

function threshold(check: OptionChecker, key: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) check.fail(`scoringGate.thresholds.${key} must be a number from 0 to 100, got ${typeof v === 'number' ? v : typeof v}.`);
  return v;
}

function toolRisks(check: OptionChecker, tools: unknown): Record<string, ToolRisk> | undefined {
  const given = check.object('scoringGate.tools', tools, 'an object of { sideEffect?, tags? } by tool name');
  if (given === undefined) return undefined;
  const out: Record<string, ToolRisk> = Object.create(null) as Record<string, ToolRisk>;
  for (const [name, value] of Object.entries(given)) {
    const where = `scoringGate.tools["${name}"]`;
    const risk = check.object(where, value ?? null, 'an object { sideEffect?, tags? }') ?? {};
    check.knownKeys(where, risk, ['sideEffect', 'tags']);
    const sideEffect = check.boolean(`${where}.sideEffect`, risk.sideEffect);
    if (risk.tags !== undefined) {
      if (!Array.isArray(risk.tags)) check.fail(`${where}.tags must be an array.`);
      for (const t of risk.tags) {
        if (!(TOOL_RISK_TAGS as readonly unknown[]).includes(t)) check.fail(`${where}.tags: unknown tag ${JSON.stringify(t)}. Known tags: ${TOOL_RISK_TAGS.join(', ')}.`);
      }
    }
    out[name] = { sideEffect, tags: risk.tags ? Object.freeze([...(risk.tags as ToolRisk['tags'] & unknown[])]) : undefined };
  }
  return Object.freeze(out);
}

function domains(check: OptionChecker, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((d) => typeof d !== 'string' || !/^[a-z0-9.-]+$/i.test(d) || d.startsWith('.') || !d.includes('.'))) {
    check.fail('scoringGate.trustedDomains must be an array of domain names such as "example.com".');
  }
  return Object.freeze(v.map((d: string) => d.toLowerCase())) as string[];
}

function external(check: OptionChecker, v: unknown): ResolvedExternal | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'function') return { score: v as ExternalScorerFn, timeout: DEFAULT_EXTERNAL_TIMEOUT, failMode: 'closed', combine: 'max' };
  const o = check.object('scoringGate.scorer', v ?? null, 'a function or { score, timeout?, failMode?, combine? }') ?? {};
  check.knownKeys('scoringGate.scorer', o, SCORER_KEYS);
  const score = check.function<ExternalScorerFn>('scoringGate.scorer.score', o.score ?? null, '(request) => Promise<number | { score, reason? }>') as ExternalScorerFn;
  return {
    score,
    timeout: check.delay('scoringGate.scorer.timeout', o.timeout) ?? DEFAULT_EXTERNAL_TIMEOUT,
    failMode: check.oneOf('scoringGate.scorer.failMode', o.failMode, ['open', 'closed']) ?? 'closed',
    combine: check.oneOf('scoringGate.scorer.combine', o.combine, ['max', 'mean']) ?? 'max',
  };
}

/**
 * Validates the `scoringGate` option against the level's defaults. Undefined when the gate is off.
 * Throws `EnclaveConfigError` naming the bad option.
 */
export function resolveScoringGate(check: OptionChecker, value: unknown, level: SecurityLevel): ResolvedGate | undefined {
  const defaults = SCORING_DEFAULTS[level];
  if (value === false || (value === undefined && !defaults.enabled)) return undefined;
  const o = value === undefined || value === true ? {} : (check.object('scoringGate', value, 'a boolean or an options object') ?? {});
  check.knownKeys('scoringGate', o, GATE_KEYS);
  const t = check.object('scoringGate.thresholds', o.thresholds, 'an object { warn?, block? }') ?? {};
  check.knownKeys('scoringGate.thresholds', t, ['warn', 'block']);
  const block = threshold(check, 'block', t.block, defaults.block);
  const warn = threshold(check, 'warn', t.warn, Math.min(defaults.warn, block));
  if (warn > block) check.fail(`scoringGate.thresholds.warn (${warn}) must not be above scoringGate.thresholds.block (${block}).`);
  return {
    warn,
    block,
    onWarn: check.function<(warning: ScoringWarning) => void>('scoringGate.onWarn', o.onWarn),
    tools: toolRisks(check, o.tools),
    trustedDomains: domains(check, o.trustedDomains),
    external: external(check, o.scorer),
  };
}
