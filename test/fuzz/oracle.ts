/**
 * The fuzzer's judgement of one call: what counts as the same result, and what a rejected call
 * must look like (a ThinnetError with a code, every watched array bit for bit as before).
 */

import { ThinnetError } from '../../ts/index.js'
import type { Output } from './ops.js'

/** The outcome of one call on one backend. */
export type Rejected = { ok: false; code: string; message: string }
export type Outcome = { ok: true; outputs: Output[] } | Rejected

export function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice()
}

/**
 * Equal bit for bit, except that any NaN equals any NaN: the contract leaves a NaN's sign and
 * payload to the hardware where arithmetic made it (dropout's scale, dense's activations).
 */
export function sameOutput(a: Output, b: Output): string | null {
  if (a === undefined || b === undefined || typeof a !== 'object' || typeof b !== 'object') {
    return Object.is(a, b) ? null : `${String(a)} != ${String(b)}`
  }
  if (a.length !== b.length) return `length ${a.length} != ${b.length}`
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  const floats = a instanceof Float32Array
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ub[i]) continue
    if (floats && Number.isNaN(a[i]) && Number.isNaN(b[i])) continue
    return `element ${i}: ${a[i]} (0x${ua[i].toString(16)}) != ${b[i]} (0x${ub[i].toString(16)})`
  }
  return null
}

export function sameOutputs(a: Output[], b: Output[]): string | null {
  if (a.length !== b.length) return `${a.length} outputs != ${b.length}`
  for (let i = 0; i < a.length; i++) {
    const d = sameOutput(a[i], b[i])
    if (d !== null) return `output ${i}: ${d}`
  }
  return null
}

/** Classifies what a call threw; anything but a coded ThinnetError is a failure. */
export function rejection(error: unknown): Rejected | string {
  if (error instanceof ThinnetError && typeof error.code === 'string' && error.code.startsWith('ERR_')) {
    return { ok: false, code: error.code, message: error.message }
  }
  const name = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)
  return `threw something other than a coded ThinnetError: ${name}`
}

/** Compares two backends' outcomes of the same call. */
export function sameOutcome(a: Outcome, b: Outcome, exact: boolean): string | null {
  // WASM's 32-bit sizes are a documented limit of its own ("... on the WASM backend").
  const wasmLimit = (o: Outcome) => !o.ok && o.message.includes('on the WASM backend')
  if (wasmLimit(a) || wasmLimit(b)) return null
  if (a.ok !== b.ok)
    return `one backend ${a.ok ? 'accepted' : `rejected (${(a as { code: string }).code})`}, the other ${b.ok ? 'accepted' : `rejected (${(b as { code: string }).code}: ${(b as { message: string }).message})`}`
  if (!a.ok || !b.ok) return !a.ok && !b.ok && a.code !== b.code ? `codes differ: ${a.code} != ${b.code}` : null
  if (exact) return sameOutputs(a.outputs, b.outputs)
  const lengths = (o: typeof a.outputs) => o.map((x) => (typeof x === 'object' ? x.length : typeof x)).join(',')
  return lengths(a.outputs) === lengths(b.outputs) ? null : `output lengths differ: ${lengths(a.outputs)} != ${lengths(b.outputs)}`
}
