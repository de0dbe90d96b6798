/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser). When it is missing, suites skip loudly (a console warning and a
 * skipped block naming why), unless THINNET_REQUIRE_BROWSER=1 (as CI sets it), which makes the
 * absence a failing test.
 */

import { existsSync } from 'node:fs'
import { describe, it } from 'vitest'
import { CHROMIUM_PATH } from '../../tools/chromium.js'

export { CHROMIUM_PATH, launchChromium } from '../../tools/chromium.js'

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`
}

/**
 * `describe(title, body)` when Chromium is present. Otherwise a loud skip, or, with
 * THINNET_REQUIRE_BROWSER=1, a failing test saying what is missing.
 */
export function describeWithChromium(title: string, body: () => void): void {
  const missing = chromiumMissing()
  if (missing === undefined) {
    describe(title, body)
  } else if (process.env.THINNET_REQUIRE_BROWSER === '1') {
    describe(title, () => {
      it('has Chromium (THINNET_REQUIRE_BROWSER=1 requires it)', () => {
        throw new Error(`the browser tests are required but cannot run: ${missing}`)
      })
    })
  } else {
    console.warn(
      `\n*** thinnet: ${title}: browser tests SKIPPED: ${missing}\n` + `*** (set THINNET_REQUIRE_BROWSER=1 to make this a failure)\n`,
    )
    describe.skip(`${title} SKIPPED: ${missing}`, () => {
      it('(Chromium unavailable)', () => {})
    })
  }
}
