import type { Browser } from 'playwright-core';

/** Where the test looks for Chromium: CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export declare const CHROMIUM_PATH: string;
/** Installs Debian's chromium with apt-get when it is missing; the reason it is still missing, or undefined. */
export declare function ensureChromium(): string | undefined;
/** Chromium launched headless through playwright-core, or why it cannot be. */
export declare function launchChromium(): Promise<{ browser: Browser; problem?: undefined } | { browser?: undefined; problem: string }>;
