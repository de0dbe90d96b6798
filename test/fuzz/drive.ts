/**
 * Runs a range of cases on every given backend and compares each case's outcomes across
 * backends (same acceptance, same error code, same bits). Shared by the vitest file and the CLI.
 */

import type { Thinnet } from '../../ts/index.js'
import { sameOutcome } from './oracle.js'
import { OPS, reproduction, runCase, type CaseId } from './runner.js'
import type { Op } from './ops.js'

export interface FuzzOptions {
  seed: number
  from: number
  iterations: number
  /** Probability that one argument is made invalid. */
  hostility: number
  ops?: readonly Op[]
  /** Called with each case's text (for --verbose). */
  log?: (line: string) => void
}

export interface FuzzReport {
  calls: number
  rejected: number
  failures: string[]
}

export async function fuzz(backends: readonly Thinnet[], o: FuzzOptions, maxFailures = 5): Promise<FuzzReport> {
  const report: FuzzReport = { calls: 0, rejected: 0, failures: [] }
  const ops = o.ops ?? OPS
  for (let index = o.from; index < o.from + o.iterations && report.failures.length < maxFailures; index++) {
    const id: CaseId = { seed: o.seed, index, hostility: o.hostility }
    let first: { backend: string; result: Awaited<ReturnType<typeof runCase>> } | undefined
    for (const tn of backends) {
      const result = await runCase(tn, id, ops)
      report.calls++
      if (result.outcome?.ok === false) report.rejected++
      o.log?.(`[${tn.backend}] #${index} ${result.outcome?.ok === false ? `rejected ${result.outcome.code}` : 'ok'}: ${result.text}`)
      if (result.failure !== undefined) {
        report.failures.push(reproduction(id, tn.backend, result))
        break
      }
      if (first === undefined) {
        first = { backend: tn.backend, result }
      } else if (first.result.outcome !== undefined && result.outcome !== undefined) {
        const diff = sameOutcome(first.result.outcome, result.outcome, result.exact)
        if (diff !== null) {
          report.failures.push(reproduction(id, tn.backend, { ...result, failure: `differs from ${first.backend}: ${diff}` }))
          break
        }
      }
    }
  }
  return report
}
