/**
 * Headless Chromium for the browser tests and the browser benchmark: Debian's /usr/bin/chromium
 * (or THINNET_CHROMIUM, another Chromium-based browser), driven by playwright-core; never a
 * downloaded browser build.
 */

import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM_PATH = process.env.THINNET_CHROMIUM ?? '/usr/bin/chromium'

/** Launches headless Chromium (--no-sandbox: the tests and benchmarks run as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], headless: true })
}
