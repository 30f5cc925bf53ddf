/**
 * The README's blocks, run as a new user would: the fenced blocks of one section, and shell blocks run
 * with the real curl under bash, one answer per command.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { SseParser } from '@enclave-kit/client';
import { freePort, startNode } from '../../shared/probe.js';
import type { Started } from '../../shared/probe.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The fenced blocks of the README section `## {title}`, subsections included. */
export function readmeBlocks(title: string): { lang: string; code: string }[] {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const rest = readme.slice(start + 1);
  const end = rest.slice(3).search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end + 3);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }));
}

/** A shell block's commands (comments dropped, continuation lines joined), each followed by a marker, run with bash; port 3000 becomes `port`. */
export function runShell(code: string, port: number): string[] {
  const commands: string[] = [];
  let current = '';
  for (const line of code.replaceAll('3000', String(port)).split('\n')) {
    if (current === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    current += `${line}\n`;
    if (!line.endsWith('\\')) {
      commands.push(current);
      current = '';
    }
  }
  const script = commands.map((c) => `${c}echo; echo @@@`).join('\n');
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  return result.stdout.split('@@@\n').slice(0, commands.length);
}

export interface Event {
  id: string;
  type: string;
  data: { sessionId: string; seq: number; type: string; payload: any };
}

/** Server-Sent Events in curl's output. */
export function sse(text: string): Event[] {
  return new SseParser().feed(text).map((m) => ({ id: m.lastEventId, type: m.type, data: JSON.parse(m.data) }));
}

/** This example started with `node server.mjs` on a free port for the file's tests, stopped after them. */
export function useExample(): { readonly port: number } {
  let server: Started | undefined;
  const state = { port: 0 };
  beforeAll(async () => {
    expect(spawnSync('curl', ['--version']).status, 'the README’s lines need curl: apt-get install -y curl').toBe(0);
    state.port = await freePort();
    server = await startNode(['server.mjs'], { cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), port: state.port });
  });
  afterAll(() => server?.stop());
  return state;
}
