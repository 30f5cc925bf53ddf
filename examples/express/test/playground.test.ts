/**
 * The playground, tried as a new user would: this example started with `node server.mjs` (the
 * playground on), its page opened in Debian's Chromium driven by playwright-core, the headers box set to
 * `x-user: alice`, scripts typed into the editor. A screenshot of each state goes to
 * test-artifacts/playground/ (git-ignored). Chromium is installed with apt-get when it is missing
 * (./browsers.mjs). Only when it then truly cannot be launched is the suite skipped, with the reason in
 * its name and on stderr; with ENCLAVE_REQUIRE_BROWSER=1 (.ci/run sets it) that fails instead: the
 * file fails to load, with the reason.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTool } from '@enclave-kit/engine';
import { enclave } from '@enclave-kit/express';
import type { ExpressEnclaveOptions } from '@enclave-kit/express';
import express from 'express';
import { z } from 'zod';
import { freePort, startNode } from '../../shared/probe.js';
import type { Started } from '../../shared/probe.js';
import { launchChromium } from './browsers.mjs';

// The callbacks of page.evaluate() run in the browser; this file is checked with Node's globals only.
declare const document: any;
declare const localStorage: { getItem(key: string): string | null };

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const artifacts = path.join(root, 'test-artifacts/playground');
const STEP_MS = 30_000;

const launched = await launchChromium();
if (launched.problem !== undefined) {
  if (process.env.ENCLAVE_REQUIRE_BROWSER === '1') throw new Error(`The playground's browser test needs Chromium: ${launched.problem}`);
  console.warn(`examples/express playground test SKIPPED: Chromium cannot be launched: ${launched.problem}`);
}
const browser = launched.browser;
const suite = browser === undefined ? `the playground of examples/express, in Chromium (SKIPPED: Chromium cannot be launched: ${launched.problem})` : 'the playground of examples/express, in Chromium';

/** The code of the README's first curl line (`-d '{"code":...}'`): the page must give the value it gives. */
function readmeCurlCode(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const line = /curl -s localhost:3000\/enclave -H 'x-user: alice' -H 'content-type: application\/json' \\\n\s+-d '(\{"code":.*\})'/.exec(readme);
  if (!line?.[1]) throw new Error('README.md has no curl line running a script as alice');
  return (JSON.parse(line[1]) as { code: string }).code;
}

/** Another app with the playground on, in this process: the route at `{url}`, with `options`. */
async function serveAnother(options: ExpressEnclaveOptions): Promise<{ url: string; close(): Promise<void> }> {
  const mw = enclave({ ...options, playground: true, logger: { info() {}, error() {} } });
  const other = await new Promise<Server>((resolve) => {
    const s = express().use(mw).listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(other.address() as AddressInfo).port}/enclave`,
    async close() {
      mw.handler.dispose();
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    },
  };
}

describe.skipIf(browser === undefined)(suite, () => {
  let server: Started | undefined;
  let page: Page;
  let pageUrl = '';
  /** Content-Security-Policy violations the page reported, and every request it made. */
  const violations: string[] = [];
  const requests: string[] = [];

  // The whole page, as tall as its content: no empty band below it.
  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
  const text = (selector: string) => page.locator(selector).innerText();
  /** Replaces the editor's content by typing `code`, key by key, as a person would. */
  async function typeScript(code: string, on: Page = page): Promise<void> {
    await on.locator('.cm-content').click();
    await on.keyboard.press('ControlOrMeta+a');
    await on.keyboard.press('Delete');
    // Lines start at column 1: type each one after a newline that keeps no indentation.
    const lines = code.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (i > 0) {
        await on.keyboard.press('Enter');
        await on.keyboard.press('Shift+Tab');
      }
      await on.keyboard.type(lines[i] as string);
    }
    expect(await on.evaluate(() => document.querySelector(".cm-content").innerText.replace(/\n$/, ''))).toBe(code);
  }
  /** The 1-based editor line that holds the first element matching `selector`. */
  const lineOf = (selector: string) =>
    page.evaluate((s) => {
      const mark = document.querySelector(s);
      const line = mark?.closest('.cm-line');
      return line ? [...document.querySelectorAll('.cm-content .cm-line')].indexOf(line) + 1 : 0;
    }, selector);

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await startNode(['server.mjs'], { cwd: path.join(here, '..'), port: await freePort() });
    pageUrl = `${server.url}/playground`;
    if (browser === undefined) throw new Error('unreachable: the suite is skipped without a browser');
    page = await browser.newPage({ viewport: { width: 1440, height: 640 } });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    page.on('console', (m) => {
      if (m.text().startsWith('CSP violation')) violations.push(m.text());
    });
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    server?.stop();
  });

  it('serves the page with a strict policy, every asset from the route itself', async () => {
    const res = await page.goto(pageUrl);
    expect(res?.status()).toBe(200);
    const headers = res?.headers() ?? {};
    expect(headers['content-security-policy']).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).toContain("connect-src 'self'");
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(headers['x-content-type-options']).toBe('nosniff');
    await page.locator('.cm-editor').waitFor();
    expect(await page.title()).toBe('enclave-kit playground');
    // Without credentials the catalog says so; nothing else is loaded from anywhere but the route.
    await page.locator('#level', { hasText: '401' }).waitFor();
    expect(requests.every((r) => /^(GET|POST) \/enclave(\/|$)/.test(r))).toBe(true);
    // AgentScript highlighting: what the host provides stands out in code, not in the sample's comment.
    expect(await page.locator('.cm-as-provided').allInnerTexts()).toEqual(['console', 'input', 'input']);
    await shot('01-no-credentials');
  }, STEP_MS);

  it('as alice: the catalog, then a typed script streams its logs and tool calls and returns what the README’s curl line returns', async () => {
    await page.locator('#headers').fill('x-user: alice');
    await page.locator('#catalog h3', { hasText: 'reports:build' }).waitFor();
    expect(await page.locator('#catalog h3').allInnerTexts()).toEqual(['me', 'orders:get', 'orders:list', 'orders:refund', 'reports:build']);
    expect(await text('#level')).toBe('Security level STANDARD');
    const curlCode = readmeCurlCode();
    const expected = (await (await fetch(server?.url ?? '', { method: 'POST', headers: { 'x-user': 'alice', 'content-type': 'application/json' }, body: JSON.stringify({ code: curlCode }) })).json()) as { value: unknown };
    expect(expected.value).toBe(200);

    await typeScript(
      [
        "console.log('building the report');",
        "const report = await callTool('reports:build', { days: 7 });",
        "console.log('report built for', report.days, 'days');",
        curlCode,
      ].join('\n'),
    );
    // Tool names the catalog lists are marked as such.
    expect(await page.locator('.cm-as-tool').allInnerTexts()).toEqual(["'reports:build'", '"orders:list"']);
    expect(await page.locator('.cm-as-tool-unknown').count()).toBe(0);
    await page.keyboard.press('ControlOrMeta+Enter');
    // The first log line and the pending slow call show while the run is still going: streamed, not at the end.
    await page.locator('#logs li', { hasText: 'building the report' }).waitFor();
    await page.locator('#timeline li.pending', { hasText: 'reports:build' }).waitFor();
    expect(await text('#result')).toBe('');
    expect(await page.locator('#cancel').isEnabled()).toBe(true);
    await shot('02-streaming');

    await page.locator('#result.success').waitFor();
    expect(JSON.parse(await text('#result'))).toBe(expected.value);
    expect(await page.locator('#logs li').allInnerTexts()).toEqual(['[log] building the report', '[log] report built for 7 days']);
    // The timeline: each call at its offset into the run, in the order they happened, with its duration.
    const calls = (await page.locator('#timeline li').allInnerTexts()).map((c) => /^\+(\d+) ms\s*(.*)$/s.exec(c));
    expect(calls.map((c) => c?.[2]?.replace(/\(\d+ ms\)/, '(n ms)'))).toEqual(['#1 reports:build ok (n ms)', '#2 orders:list ok (n ms)']);
    expect(Number(calls[1]?.[1])).toBeGreaterThanOrEqual(Number(calls[0]?.[1]));
    expect(await text('#status')).toMatch(/^Done in \d+ ms, 2 tool calls\.$/);
    // The run went through the client's session route, with the header from the box.
    expect(requests).toContain('POST /enclave/sessions');
    await shot('03-result');
  }, STEP_MS);

  it('marks a validation error at its line, and an unknown tool with its suggestions, as you type; the run reports the same line', async () => {
    await typeScript(["const paid = await callTool('orders:lst', { status: 'paid' });", "const total = eval('1 + 1');", 'return total;'].join('\n'));
    await page.locator('.cm-lintRange-error').waitFor();
    await page.locator('.cm-lintRange-warning').waitFor();
    expect(await lineOf('.cm-lintRange-error')).toBe(2);
    expect(await page.locator('.cm-lintRange-error').innerText()).toBe('eval');
    expect(await lineOf('.cm-lintRange-warning')).toBe(1);
    expect(await page.locator('.cm-as-tool-unknown').allInnerTexts()).toEqual(["'orders:lst'"]);
    expect(await text('#check-note')).toBe('Check: 1 error, 1 warning.');
    // The gutter marker of line 2 explains the error; the warning offers the closest of alice's tools.
    await page.locator('.cm-lint-marker-error').hover();
    await page.locator('.cm-tooltip-lint', { hasText: '`eval` is blocked' }).waitFor();
    await shot('04-validation-error');
    await page.locator('.cm-lint-marker-warning').hover();
    const fix = page.locator('.cm-tooltip-lint .cm-diagnosticAction', { hasText: 'Use orders:list' });
    await fix.waitFor();
    await fix.click();
    expect(await page.locator('.cm-line').first().innerText()).toBe("const paid = await callTool('orders:list', { status: 'paid' });");
    expect(await page.locator('.cm-as-tool').allInnerTexts()).toEqual(["'orders:list'"]);

    // Without a mouse: the issues in a panel, from the keyboard (once the fixed script is checked again).
    await page.locator('#check-note', { hasText: 'Check: 1 error, 0 warnings.' }).waitFor();
    await page.locator('.cm-content').click();
    // Shift+M as a keyboard sends it: the key is the capital letter.
    await page.keyboard.press('ControlOrMeta+Shift+M');
    await page.locator('.cm-panel-lint li', { hasText: '`eval` is blocked' }).waitFor();
    expect(await page.locator('.cm-panel-lint li').count()).toBe(1);
    // Escape closes the panel and gives the editor the focus back.
    await page.keyboard.press('Escape');
    expect(await page.locator('.cm-panel-lint').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.classList.contains('cm-content'))).toBe(true);
    await page.locator('#run').click();
    await page.locator('#result.failure').waitFor();
    expect(await text('#result')).toMatch(/^VALIDATION_ERROR at line 2, column 15: /);
    expect(await text('#status')).toBe('Failed: VALIDATION_ERROR at line 2, column 15.');
    await page.locator('.cm-lint-marker-error').waitFor();
    expect(await lineOf('.cm-lintRange-error')).toBe(2);
  }, STEP_MS);

  it('marks where a script failed while it ran', async () => {
    await typeScript(['const order = await callTool(\'orders:get\', { id: "o4" });', 'return order.total;'].join('\n'));
    await page.locator('#run').click();
    await page.locator('#result.failure').waitFor();
    expect(await text('#result')).toMatch(/^TOOL_ERROR at line 1, column \d+: Not your order\.$/);
    await page.locator('.cm-lintRange-error').waitFor();
    expect(await lineOf('.cm-lintRange-error')).toBe(1);
    await shot('05-runtime-error');
  }, STEP_MS);

  it('cancels a long run: the session ends as ABORTED', async () => {
    await typeScript(["console.log('starting a 30-day report');", "return await callTool('reports:build', { days: 30 });"].join('\n'));
    await page.locator('#run').click();
    await page.locator('#timeline li.pending', { hasText: 'reports:build' }).waitFor();
    await page.locator('#cancel').click();
    await page.locator('#result.failure').waitFor();
    expect(await text('#result')).toMatch(/^ABORTED: /);
    expect(await text('#status')).toBe('Cancelled.');
    expect(requests.some((r) => r.startsWith('DELETE /enclave/sessions/ses_'))).toBe(true);
    expect(await page.locator('#run').isEnabled()).toBe(true);
    expect(await page.locator('#cancel').isEnabled()).toBe(false);
    await shot('06-cancelled');
  }, STEP_MS);

  it('refuses invalid input JSON without sending it', async () => {
    const sent = requests.filter((r) => r === 'POST /enclave/sessions').length;
    await page.locator('#input').fill('{"status": paid}');
    await page.locator('#run').click();
    await page.locator('#input-error').waitFor();
    expect(await text('#input-error')).toMatch(/^The input is not valid JSON/);
    expect(await page.locator('#input').getAttribute('aria-invalid')).toBe('true');
    expect(await text('#status')).toBe('Not run: the input is not valid JSON.');
    expect(requests.filter((r) => r === 'POST /enclave/sessions').length).toBe(sent);
    await shot('07-invalid-input');
    await page.locator('#input').fill('{"status": "paid"}');
    expect(await page.locator('#input-error').isHidden()).toBe(true);
  }, STEP_MS);

  it('is keyboard accessible: labelled fields, Escape then Tab leaves the editor, Ctrl+Enter runs from the input box', async () => {
    for (const id of ['input', 'headers']) expect(await page.locator(`label[for="${id}"]`).count()).toBe(1);
    expect(await page.locator('.cm-content').getAttribute('aria-label')).toBe('AgentScript editor');
    expect(await page.locator('#status').getAttribute('role')).toBe('status');
    await page.locator('.cm-content').click();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.classList.contains('cm-content'))).toBe(true);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('run');
    await typeScript('return input.status;');
    await page.locator('#input').focus();
    await page.keyboard.press('ControlOrMeta+Enter');
    await page.locator('#result.success').waitFor();
    expect(await text('#result')).toBe('"paid"');
  }, STEP_MS);

  it('shows a catalog’s descriptions and schemas as text, never as markup', async () => {
    // Tool descriptions are the host's, but often copied from elsewhere: the page must not render them.
    const hostile = '<img src=x onerror="document.title=`pwned`"> Adds a note <b>to the board</b>.';
    const addNote = defineTool({
      name: 'notes:add',
      description: hostile,
      input: z.object({ text: z.string().describe('The note, <i>plain text</i>') }),
      output: z.object({ id: z.number() }),
      sideEffect: true,
      handler: async () => ({ id: 1 }),
    });
    const other = await serveAnother({ tools: () => [addNote] });
    const notes = await (browser as NonNullable<typeof browser>).newPage();
    try {
      await notes.goto(`${other.url}/playground`);
      const tool = notes.locator('#catalog article.tool', { hasText: 'notes:add' });
      await tool.waitFor();
      expect(await tool.locator('p').first().innerText()).toBe(hostile);
      expect(await tool.innerText()).toContain('Side effect: changes state outside the script.');
      expect(await notes.locator('#catalog img, #catalog b, #catalog i').count()).toBe(0);
      await tool.locator('summary', { hasText: 'Arguments (JSON Schema)' }).click();
      const schema = JSON.parse(await tool.locator('details[open] pre').innerText());
      expect(schema).toMatchObject({ type: 'object', properties: { text: { type: 'string', description: 'The note, <i>plain text</i>' } } });
      expect(await tool.locator('summary').allInnerTexts()).toEqual(['TypeScript declaration', 'Arguments (JSON Schema)', 'Result (JSON Schema)']);
      expect(await notes.title()).toBe('enclave-kit playground');
      await notes.screenshot({ path: path.join(artifacts, '08-catalog-as-text.png') });
    } finally {
      await notes.close();
      await other.close();
    }
  }, STEP_MS);

  it('on a route without sessions: runs on the JSON route, and Cancel aborts the request and the run', async () => {
    let aborted = 0;
    const other = await serveAnother({
      sessions: false,
      tools: () => ({
        wait: (_args: unknown, ctx: { signal: AbortSignal }) =>
          new Promise((resolve) => {
            ctx.signal.addEventListener('abort', () => resolve((aborted++, 'aborted')), { once: true });
          }),
        hello: async () => 'hello',
      }),
    });
    const plain = await (browser as NonNullable<typeof browser>).newPage();
    try {
      await plain.goto(`${other.url}/playground`);
      await plain.locator('#catalog h3', { hasText: 'hello' }).waitFor();
      await typeScript("console.log('no session'); return await callTool('hello');", plain);
      await plain.locator('#run').click();
      await plain.locator('#result.success').waitFor();
      expect(await plain.locator('#result').innerText()).toBe('"hello"');
      expect(await plain.locator('#logs li').allInnerTexts()).toEqual(['[log] no session']);

      await typeScript("return await callTool('wait');", plain);
      await plain.locator('#run').click();
      await plain.locator('#status', { hasText: 'this route has no sessions' }).waitFor();
      await plain.locator('#cancel').click();
      await plain.locator('#result.failure').waitFor();
      expect(await plain.locator('#result').innerText()).toMatch(/^ABORTED: /);
      expect(await plain.locator('#status').innerText()).toBe('Cancelled.');
      // The server saw the client go away and aborted the run, and with it the tool's signal.
      await expect.poll(() => aborted).toBe(1);
    } finally {
      await plain.close();
      await other.close();
    }
  }, STEP_MS);

  it('keeps the headers in this browser only, and broke no policy on the way', async () => {
    await page.reload();
    expect(await page.locator('#headers').inputValue()).toBe('x-user: alice');
    expect(await page.evaluate(() => localStorage.getItem('enclave-kit.playground.headers'))).toBe('x-user: alice');
    await page.locator('#catalog h3', { hasText: 'orders:list' }).waitFor();
    expect(violations).toEqual([]);
  }, STEP_MS);
});
