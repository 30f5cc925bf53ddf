import { EnclaveConfigError } from '../errors.js';
import type { SecurityLevel } from '../levels.js';
import { TOOL_RISK_TAGS } from './tools.js';
import type { ExternalScorerFn, ScoringGateOptions, ScoringWarning, ToolRisk } from './types.js';

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

function fail(message: string): never {
  throw new EnclaveConfigError(message);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function onlyKeys(where: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) fail(`${where}: unknown option "${k}". Known options: ${allowed.join(', ')}.`);
}

function threshold(key: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) fail(`scoringGate.thresholds.${key} must be a number from 0 to 100, got ${typeof v === 'number' ? v : typeof v}.`);
  return v;
}

function toolRisks(tools: unknown): Record<string, ToolRisk> | undefined {
  if (tools === undefined) return undefined;
  if (!isObject(tools)) fail('scoringGate.tools must be an object of { sideEffect?, tags? } by tool name.');
  const out: Record<string, ToolRisk> = Object.create(null) as Record<string, ToolRisk>;
  for (const [name, risk] of Object.entries(tools)) {
    const where = `scoringGate.tools["${name}"]`;
    if (!isObject(risk)) fail(`${where} must be an object { sideEffect?, tags? }.`);
    onlyKeys(where, risk, ['sideEffect', 'tags']);
    if (risk.sideEffect !== undefined && typeof risk.sideEffect !== 'boolean') fail(`${where}.sideEffect must be a boolean.`);
    if (risk.tags !== undefined) {
      if (!Array.isArray(risk.tags)) fail(`${where}.tags must be an array.`);
      for (const t of risk.tags) {
        if (!(TOOL_RISK_TAGS as readonly unknown[]).includes(t)) fail(`${where}.tags: unknown tag ${JSON.stringify(t)}. Known tags: ${TOOL_RISK_TAGS.join(', ')}.`);
      }
    }
    out[name] = { sideEffect: risk.sideEffect as boolean | undefined, tags: risk.tags ? Object.freeze([...(risk.tags as ToolRisk['tags'] & unknown[])]) : undefined };
  }
  return Object.freeze(out);
}

function domains(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((d) => typeof d !== 'string' || !/^[a-z0-9.-]+$/i.test(d) || d.startsWith('.') || !d.includes('.'))) {
    fail('scoringGate.trustedDomains must be an array of domain names such as "example.com".');
  }
  return Object.freeze(v.map((d: string) => d.toLowerCase())) as string[];
}

function external(v: unknown): ResolvedExternal | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'function') return { score: v as ExternalScorerFn, timeout: DEFAULT_EXTERNAL_TIMEOUT, failMode: 'closed', combine: 'max' };
  if (!isObject(v)) fail('scoringGate.scorer must be a function or { score, timeout?, failMode?, combine? }.');
  onlyKeys('scoringGate.scorer', v, SCORER_KEYS);
  if (typeof v.score !== 'function') fail('scoringGate.scorer.score must be a function (request) => Promise<number | { score, reason? }>.');
  const timeout = v.timeout ?? DEFAULT_EXTERNAL_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0) fail(`scoringGate.scorer.timeout must be a positive integer (ms), got ${String(timeout)}.`);
  const failMode = v.failMode ?? 'closed';
  if (failMode !== 'open' && failMode !== 'closed') fail(`scoringGate.scorer.failMode must be "open" or "closed", got ${String(failMode)}.`);
  const combine = v.combine ?? 'max';
  if (combine !== 'max' && combine !== 'mean') fail(`scoringGate.scorer.combine must be "max" or "mean", got ${String(combine)}.`);
  return { score: v.score as ExternalScorerFn, timeout, failMode, combine };
}

/**
 * Validates the `scoringGate` option against the level's defaults. Undefined when the gate is off.
 * Throws `EnclaveConfigError` naming the bad option.
 */
export function resolveScoringGate(value: boolean | ScoringGateOptions | undefined, level: SecurityLevel): ResolvedGate | undefined {
  const defaults = SCORING_DEFAULTS[level];
  if (value === false || (value === undefined && !defaults.enabled)) return undefined;
  const o: Record<string, unknown> = value === undefined || value === true ? {} : isObject(value) ? value : fail('scoringGate must be a boolean or an options object.');
  onlyKeys('scoringGate', o, GATE_KEYS);
  const t = o.thresholds ?? {};
  if (!isObject(t)) fail('scoringGate.thresholds must be an object { warn?, block? }.');
  onlyKeys('scoringGate.thresholds', t, ['warn', 'block']);
  const block = threshold('block', t.block, defaults.block);
  const warn = threshold('warn', t.warn, Math.min(defaults.warn, block));
  if (warn > block) fail(`scoringGate.thresholds.warn (${warn}) must not be above scoringGate.thresholds.block (${block}).`);
  if (o.onWarn !== undefined && typeof o.onWarn !== 'function') fail('scoringGate.onWarn must be a function.');
  return {
    warn,
    block,
    onWarn: o.onWarn as ResolvedGate['onWarn'],
    tools: toolRisks(o.tools),
    trustedDomains: domains(o.trustedDomains),
    external: external(o.scorer),
  };
}
