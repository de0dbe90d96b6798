/**
 * Runs one generated call on one backend and checks what the facade promises for it: a valid
 * call succeeds and matches the reference; any call either succeeds or throws a coded
 * ThinnetError, and a rejected one leaves every argument array bit-identical.
 */

import type { Thinnet } from '../../ts/index.js'
import { Args } from './arrays.js'
import { GENERATORS, type Op } from './ops.js'
import { bytes, rejection, sameOutputs, type Outcome } from './oracle.js'
import { Rng } from './prng.js'

export const OPS = Object.keys(GENERATORS)

/** One call, named by (run seed, index): the same pair builds the same arguments everywhere. */
export interface CaseId {
  seed: number
  index: number
  hostility: number
}

export interface CaseResult {
  op: Op
  text: string
  notes: string[]
  valid: boolean
  /** Whether backends must agree bit for bit (see Built.exact). */
  exact: boolean
  outcome?: Outcome
  /** What went wrong; undefined when the call did what it must. */
  failure?: string
}

function caseRng(id: CaseId): Rng {
  return new Rng((Math.imul(id.seed, 0x9e3779b1) + id.index * 0x632be5ab) | 0)
}

/** The op a case calls (drawn first, so a filtered run keeps the same numbering). */
export function opOf(id: CaseId, ops: readonly Op[] = OPS): Op {
  return caseRng(id).pick(ops)
}

export async function runCase(tn: Thinnet, id: CaseId, ops: readonly Op[] = OPS): Promise<CaseResult> {
  const rng = caseRng(id)
  const op = rng.pick(ops)
  const args = new Args(rng, tn, id.hostility)
  let result: CaseResult
  try {
    const built = GENERATORS[op](args)
    result = { op, text: built.text, notes: args.notes, valid: args.valid, exact: built.exact ?? true }
    const before = args.watched.map(bytes)
    let value: unknown
    try {
      value = await built.call()
    } catch (error) {
      const outcome = rejection(error)
      if (typeof outcome === 'string') return { ...result, failure: outcome }
      result.outcome = outcome
      if (args.valid) return { ...result, failure: `a valid call was rejected: ${outcome.code}: ${outcome.message}` }
      for (let i = 0; i < args.watched.length; i++) {
        const view = args.watched[i]
        // A getter of the test's own that detached an array leaves nothing to compare.
        if (view.byteLength === 0 && before[i].length > 0) continue
        const now = bytes(view)
        if (now.length !== before[i].length || now.some((b, j) => b !== before[i][j])) {
          return { ...result, failure: `rejected (${outcome.code}) but argument array ${i} changed` }
        }
      }
      return result
    }
    // Copies: an allocate()d output's memory is freed below, before backends are compared.
    const outputs = built.outputs(value).map((o) => (typeof o === 'object' ? o.slice() : o))
    result.outcome = { ok: true, outputs }
    if (built.expected !== undefined) {
      const diff = sameOutputs(result.outcome.outputs, built.expected)
      if (diff !== null) return { ...result, failure: `differs from the TypeScript reference: ${diff}` }
    }
    return result
  } catch (error) {
    // The generator or the reference threw: a bug in the fuzzer, reported as such.
    return { op, text: '(not built)', notes: args.notes, valid: args.valid, exact: true, failure: `fuzzer error: ${String(error)}` }
  } finally {
    args.free()
  }
}

/** The reproduction printed for a failure. */
export function reproduction(id: CaseId, backend: string, r: CaseResult): string {
  return [
    `FAIL on ${backend}: seed ${id.seed}, case ${id.index}, hostility ${id.hostility} (${r.op})`,
    `  ${r.failure}`,
    `  call: ${r.text}`,
    r.notes.length > 0 ? `  arguments: ${r.notes.join('; ')}` : '  arguments: all valid',
    `  rerun: npm run fuzz -- --seed ${id.seed} --from ${id.index} --iterations 1 --hostility ${id.hostility} --backend ${backend} --verbose`,
  ].join('\n')
}
