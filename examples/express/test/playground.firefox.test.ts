/**
 * The playground in Firefox: the Express example's page in Debian's Firefox ESR, driven by
 * puppeteer-core over WebDriver BiDi (stock Firefox; no test tool's browser download). The Chromium
 * test (playground.test.ts) goes through every state; this one checks that the same page works here:
 * its policy holds, the editor checks as you type, a run streams and ends, a long one cancels, and a
 * failure is marked at its line. Screenshots go to test-artifacts/playground/firefox-*.png. Skipped,
 * saying why, only when Firefox cannot be launched (./browsers.mjs installs it when missing); with
 * ENCLAVE_REQUIRE_BROWSER=1 (.ci/run) that fails instead.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNode } from '../../shared/probe.js';
import type { Started } from '../../shared/probe.js';
import { launchFirefox } from './browsers.mjs';

// The callbacks of page.evaluate() run in the browser; this file is checked with Node's globals only.
declare const document: any;

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.resolve(here, '../../../test-artifacts/playground');
const STEP_MS = 30_000;

const launched = await launchFirefox();
if (launched.problem !== undefined) {
  if (process.env.ENCLAVE_REQUIRE_BROWSER === '1') throw new Error(`The playground's Firefox test needs Firefox: ${launched.problem}`);
  console.warn(`examples/express playground Firefox test SKIPPED: Firefox cannot be launched: ${launched.problem}`);
}
const firefox = launched.browser;

describe.skipIf(firefox === undefined)(firefox === undefined ? `the playground in Firefox (SKIPPED: ${launched.problem})` : 'the playground of examples/express, in Firefox', () => {
  let server: Started | undefined;
  let page: Page;
  const problems: string[] = [];

  /** The texts of every element that matches `selector`. */
  const texts = (selector: string): Promise<string[]> => page.$$eval(selector, (els) => els.map((e) => (e as { innerText: string }).innerText));
  /** Waits until some element matching `selector` has text matching `pattern`. */
  const textAppears = (selector: string, pattern: RegExp) =>
    page.waitForFunction((s: string, source: string) => [...document.querySelectorAll(s)].some((e) => new RegExp(source).test(e.innerText)), { timeout: STEP_MS }, selector, pattern.source);
  /** Replaces the editor's content with one line typed key by key. */
  async function typeLine(code: string): Promise<void> {
    await page.click('.cm-content');
    await page.keyboard.down('Control');
    await page.keyboard.press('a');
    await page.keyboard.up('Control');
    await page.keyboard.press('Backspace');
    await page.keyboard.type(code);
    expect(await page.$eval('.cm-content', (e) => (e as { innerText: string }).innerText.trim())).toBe(code);
  }
  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `firefox-${name}.png`) });

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await startNode(['server.mjs'], { cwd: path.join(here, '..'), port: await freePort() });
    if (firefox === undefined) throw new Error('unreachable: the suite is skipped without a browser');
    page = await firefox.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string }) => console.error(`CSP violation: ${e.violatedDirective}`));
    });
    page.on('console', (m) => {
      if (m.text().startsWith('CSP violation')) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  }, 600_000);
  afterAll(async () => {
    await firefox?.close();
    server?.stop();
  });

  it('loads under its policy, and as alice shows her tools', async () => {
    const res = await page.goto(`${server?.url}/playground`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/^default-src 'none'; script-src 'nonce-/);
    await page.waitForSelector('.cm-editor');
    await page.click('#headers');
    await page.keyboard.type('x-user: alice');
    await textAppears('#catalog h3', /^reports:build$/);
    expect(await texts('#catalog h3')).toEqual(['me', 'orders:get', 'orders:list', 'orders:refund', 'reports:build']);
  }, STEP_MS);

  it('checks as you type: the blocked call is marked on its line', async () => {
    await typeLine("const total = eval('1 + 1'); return total;");
    await page.waitForSelector('.cm-lintRange-error', { timeout: STEP_MS });
    expect(await texts('.cm-lintRange-error')).toEqual(['eval']);
    await textAppears('#check-note', /^Check: 1 error, 0 warnings\.$/);
    await shot('01-check');
  }, STEP_MS);

  it('runs with Ctrl+Enter: logs and the tool call stream, then the result', async () => {
    await typeLine("console.log('from firefox'); const r = await callTool('reports:build', { days: 7 }); return r.revenue;");
    await page.keyboard.down('Control');
    await page.keyboard.press('Enter');
    await page.keyboard.up('Control');
    await textAppears('#timeline li.pending', /reports:build/);
    expect(await texts('#logs li')).toEqual(['[log] from firefox']);
    expect(await texts('#result')).toEqual(['']);
    await shot('02-streaming');
    await page.waitForSelector('#result.success', { timeout: STEP_MS });
    expect(await texts('#result')).toEqual(['200']);
    await textAppears('#timeline li.ok', /#1 reports:build ok/);
    await shot('03-result');
  }, STEP_MS);

  it('cancels a long run', async () => {
    await typeLine("return await callTool('reports:build', { days: 30 });");
    await page.click('#run');
    await textAppears('#timeline li.pending', /reports:build/);
    await page.click('#cancel');
    await page.waitForSelector('#result.failure', { timeout: STEP_MS });
    expect((await texts('#result'))[0]).toMatch(/^ABORTED: /);
    expect(await texts('#status')).toEqual(['Cancelled.']);
  }, STEP_MS);

  it('marks where a run failed, and broke no policy on the way', async () => {
    await typeLine("const o = await callTool('orders:get', { id: 'o4' }); return o.total;");
    await page.click('#run');
    await page.waitForSelector('#result.failure', { timeout: STEP_MS });
    expect((await texts('#result'))[0]).toMatch(/^TOOL_ERROR at line 1, column \d+: Not your order\.$/);
    await page.waitForSelector('.cm-lint-marker-error', { timeout: STEP_MS });
    await shot('04-failure');
    expect(problems).toEqual([]);
  }, STEP_MS);
});
