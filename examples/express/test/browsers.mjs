// The browsers of the playground's tests, from Debian, never a test tool's own download: Chromium
// (driven by playwright-core) and Firefox ESR (driven by puppeteer-core over WebDriver BiDi, which
// stock Firefox speaks; playwright's Firefox needs its own patched build). Each is found at its
// path (CHROMIUM_PATH / FIREFOX_PATH, else Debian's), installed with apt-get when missing, and launched
// headless; .ci/run runs this file to check both launch before the tests.
//   node examples/express/test/browsers.mjs   installs what is missing, launches both, prints versions;
//                                               exits 1 with the reason when one cannot launch.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const FIREFOX_PATH = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
const LAUNCH_TIMEOUT_MS = 60_000;

/** Installs Debian's `pkg` when `file` is missing; the reason it is still missing, or undefined. */
function ensure(file, pkg, variable) {
  if (existsSync(file)) return undefined;
  if (process.env[variable]) return `${variable} is ${file}, and there is no file there`;
  const install = spawnSync('bash', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`], { encoding: 'utf8', timeout: 900_000 });
  if (existsSync(file)) return undefined;
  const why = install.error?.message ?? `exit ${install.status}: ${`${install.stderr ?? ''}`.trim().slice(-400)}`;
  return `${file} is missing and \`apt-get install ${pkg}\` did not install it (${why})`;
}

const firstLine = (err) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/**
 * Chromium, launched headless through playwright-core: `{ browser }`, or `{ problem }` saying why it
 * cannot be. `--no-sandbox` because tests run as root here, where Chromium refuses its own sandbox.
 */
export async function launchChromium() {
  const missing = ensure(CHROMIUM_PATH, 'chromium', 'CHROMIUM_PATH');
  if (missing !== undefined) return { problem: missing };
  try {
    return { browser: await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], timeout: LAUNCH_TIMEOUT_MS }) };
  } catch (err) {
    return { problem: `${CHROMIUM_PATH} did not launch: ${firstLine(err)}` };
  }
}

/** Firefox ESR, launched headless through puppeteer-core over WebDriver BiDi: `{ browser }` or `{ problem }`. */
export async function launchFirefox() {
  const missing = ensure(FIREFOX_PATH, 'firefox-esr', 'FIREFOX_PATH');
  if (missing !== undefined) return { problem: missing };
  try {
    return { browser: await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, timeout: LAUNCH_TIMEOUT_MS }) };
  } catch (err) {
    return { problem: `${FIREFOX_PATH} did not launch: ${firstLine(err)}` };
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let failed = false;
  for (const [name, launch] of [['Chromium', launchChromium], ['Firefox', launchFirefox]]) {
    const launched = await launch();
    if (launched.problem !== undefined) {
      console.error(`${name} cannot run the playground's browser test: ${launched.problem}`);
      failed = true;
      continue;
    }
    console.log(`${name} launches: ${await launched.browser.version()}`);
    await launched.browser.close();
  }
  process.exit(failed ? 1 : 0);
}
