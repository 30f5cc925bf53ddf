import type { Browser } from 'playwright-core';
import type { Browser as PuppeteerBrowser } from 'puppeteer-core';

/** Where the tests look for Chromium: CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export declare const CHROMIUM_PATH: string;
/** Where the tests look for Firefox: FIREFOX_PATH, else Debian's /usr/bin/firefox-esr. */
export declare const FIREFOX_PATH: string;
/** Chromium launched headless through playwright-core (installed with apt-get when missing), or why it cannot be. */
export declare function launchChromium(): Promise<{ browser: Browser; problem?: undefined } | { browser?: undefined; problem: string }>;
/** Firefox ESR launched headless through puppeteer-core over WebDriver BiDi (installed with apt-get when missing), or why it cannot be. */
export declare function launchFirefox(): Promise<{ browser: PuppeteerBrowser; problem?: undefined } | { browser?: undefined; problem: string }>;
