/**
 * The gate's acceptance test: at the default thresholds, at least 90% of the abuse-shaped scripts are
 * refused before they run and none of the ordinary ones is, at STANDARD (gate turned on) and at STRICT
 * (on by default) for the scripts written in the STRICT dialect. Every ordinary program of the
 * programs suite (`STANDARD_PROGRAMS`) must also run exactly as without the gate; its seed-dialect
 * programs already run at STRICT, where the gate is on by default.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import type { ExecutionResult } from '../../src/index.js';
import { STANDARD_PROGRAMS } from '../programs/cases.js';
import { makeTools } from '../programs/fixtures.js';
import { ATTACKS, ORDINARY, TRUSTED_DOMAINS } from './corpus.js';

// Scripts the gate lets through run against tools that return nothing, so nothing they do matters.
const inert = async () => [];
const blocked = (r: ExecutionResult) => r.error?.code === 'SCORING_BLOCKED';
/** What the STANDARD run of the corpus measured, for the README's figures. */
const measured: { blocked?: number } = {};

describe.each([
  ['STANDARD', new Enclave({ scoringGate: { trustedDomains: TRUSTED_DOMAINS }, toolHandler: inert })],
  ['STRICT', new Enclave({ securityLevel: 'STRICT', scoringGate: { trustedDomains: TRUSTED_DOMAINS }, toolHandler: inert })],
] as const)('labelled corpus at %s', (level, enclave) => {
  afterAll(() => enclave.dispose());
  const attacks = level === 'STRICT' ? ATTACKS.filter((a) => a.strict) : ATTACKS;
  const ordinary = level === 'STRICT' ? ORDINARY.filter((a) => a.strict) : ORDINARY;

  it('has enough scripts to mean something', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(40);
    expect(ORDINARY.length).toBeGreaterThanOrEqual(60);
    expect(attacks.length).toBeGreaterThanOrEqual(20);
    expect(ordinary.length).toBeGreaterThanOrEqual(40);
  });

  it('blocks at least 90% of the abuse-shaped scripts, each with an explanation', async () => {
    const missed: string[] = [];
    for (const a of attacks) {
      const r = await enclave.run(a.code, { input: {} });
      // Passing validation is part of the test: the gate, not the validator, must be what stops them.
      expect(r.error?.code, a.name).not.toBe('VALIDATION_ERROR');
      if (!blocked(r)) {
        missed.push(`${a.name} (score ${r.scoring?.score})`);
        continue;
      }
      expect(r.scoring?.decision).toBe('block');
      expect(r.scoring?.signals.length).toBeGreaterThan(0);
      expect(r.stats.toolCallCount).toBe(0);
    }
    if (level === 'STANDARD') measured.blocked = attacks.length - missed.length;
    const rate = 1 - missed.length / attacks.length;
    expect(rate, `missed: ${missed.join('; ')}`).toBeGreaterThanOrEqual(0.9);
  });

  it('blocks none of the ordinary scripts', async () => {
    for (const o of ordinary) {
      const r = await enclave.run(o.code, { input: {} });
      expect(r.error?.code, o.name).not.toBe('VALIDATION_ERROR');
      expect(blocked(r), `${o.name}: ${JSON.stringify(r.scoring)}`).toBe(false);
      expect(r.scoring?.decision).not.toBe('block');
    }
  });
});

describe('the ordinary programs suite with the gate on', () => {
  const enclave = new Enclave({ tools: makeTools(), scoringGate: true });
  const without = new Enclave({ tools: makeTools() });
  afterAll(() => {
    enclave.dispose();
    without.dispose();
  });

  for (const program of STANDARD_PROGRAMS) {
    it(program.name, async () => {
      const options = program.input === undefined ? {} : { input: program.input };
      const r = await enclave.run(program.code, options);
      expect(r.scoring?.decision).toBe('allow');
      const base = await without.run(program.code, options);
      expect(base.scoring).toBeUndefined();
      expect(r.success).toBe(base.success);
      expect(r.value).toEqual(base.value);
      expect(r.error?.code).toBe(base.error?.code);
    });
  }
});

describe('README.md', () => {
  it('states the sizes of this corpus and the number it blocks at STANDARD', () => {
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
    const figures = /Labelled corpus \(`test\/scoring\/corpus\.ts`\): (\d+) exfiltration- and abuse-shaped scripts and (\d+) ordinary ones; at the default thresholds (\d+) of the (\d+) are blocked at STANDARD/.exec(readme);
    expect(figures, 'the README sentence on the labelled corpus').not.toBeNull();
    const [, attacks, ordinary, blockedCount, of] = (figures ?? []).map(Number);
    expect({ attacks, ordinary, of }).toEqual({ attacks: ATTACKS.length, ordinary: ORDINARY.length, of: ATTACKS.length });
    // Measured by the STANDARD blocking test above (absent when a filter left it out).
    if (measured.blocked !== undefined) expect(blockedCount).toBe(measured.blocked);
  });
});
