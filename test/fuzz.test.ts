/**
 * A short seeded run of the project's fuzzer (test/fuzz/, issue 11 item 7): every public op of
 * the facade with valid and hostile arguments on every backend that loads, compared with the
 * TypeScript references and across backends; a rejected call must be a coded ThinnetError that
 * left its arrays untouched. `npm run fuzz` runs it long, with other seeds.
 */

import { describe, expect, it } from 'vitest'
import { loadedBackends } from './backends.js'
import { fuzz } from './fuzz/drive.js'

describe('fuzz (short seeded run)', () => {
  it.each([
    { seed: 11, hostility: 0 },
    { seed: 12, hostility: 0.1 },
    { seed: 13, hostility: 0.5 },
  ])(
    'seed $seed, hostility $hostility: 2000 cases on every backend',
    async ({ seed, hostility }) => {
      const report = await fuzz(loadedBackends, { seed, from: 0, iterations: 2000, hostility })
      expect(report.failures.join('\n\n')).toBe('')
      expect(report.calls).toBe(2000 * loadedBackends.length)
      if (hostility > 0) expect(report.rejected).toBeGreaterThan(0)
    },
    20_000,
  )
})
