// Debian's Chromium for the playground's browser test, and the same check for .ci/run: find it
// (CHROMIUM_PATH, else /usr/bin/chromium), install it with apt-get when it is missing, and launch it
// through playwright-core. Never a test tool's own browser download.
//   node examples/express/test/chromium.mjs   installs when missing, launches, prints the version;
//                                               exits 1 with the reason when it cannot.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Installs Debian's chromium when CHROMIUM_PATH is missing; the reason it is still missing, or undefined. */
export function ensureChromium() {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  if (process.env.CHROMIUM_PATH) return `CHROMIUM_PATH is ${CHROMIUM_PATH}, and there is no file there`;
  const install = spawnSync('bash', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { encoding: 'utf8', timeout: 900_000 });
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const why = install.error?.message ?? `exit ${install.status}: ${`${install.stderr ?? ''}`.trim().slice(-400)}`;
  return `${CHROMIUM_PATH} is missing and \`apt-get install chromium\` did not install it (${why})`;
}

/**
 * Chromium, launched headless: `{ browser }`, or `{ problem }` saying why it cannot be. `--no-sandbox`
 * because tests run as root here, where Chromium refuses its own sandbox.
 */
export async function launchChromium() {
  const missing = ensureChromium();
  if (missing !== undefined) return { problem: missing };
  try {
    return { browser: await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], timeout: 60_000 }) };
  } catch (err) {
    return { problem: `${CHROMIUM_PATH} did not launch: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const launched = await launchChromium();
  if (launched.problem !== undefined) {
    console.error(`Chromium cannot run the playground's browser test: ${launched.problem}`);
    process.exit(1);
  }
  console.log(`Chromium ${launched.browser.version()} at ${CHROMIUM_PATH} launches.`);
  await launched.browser.close();
}
