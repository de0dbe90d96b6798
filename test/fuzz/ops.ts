/**
 * One generator per public op of the facade: each draws sizes and options, builds the arguments
 * through `Args` (which may make them hostile) and says what the call returns and, for a valid
 * call, what the TypeScript reference says it must return.
 */

import { referenceDropout, referenceDropoutBackward, referenceMask } from '../../ts/reference.js'
import { referenceAdamStep, referenceAllFinite, referenceMaxNorm, referenceSgdStep } from '../../ts/reference-optim.js'
import { describe, type Args } from './arrays.js'
import { FAMILY_GENERATORS } from './family.js'

/** What a call produced, compared across backends and with the reference. */
export type Output = Float32Array | Uint32Array | boolean | number | undefined

export interface Built {
  /** Runs the call; its value goes to `outputs`. */
  call(): unknown
  /** The results to compare, read after the call. */
  outputs(result: unknown): Output[]
  /** The reference's results, computed before the call on copies (valid calls only). */
  expected?: Output[]
  /** The call, written out for the reproduction. */
  text: string
  /**
   * False for gemm and dense: their sums are bit-exact within a backend (any thread count) but
   * not across backends (FMA or not, the order of SIMD lanes), whose tests use tolerances
   * (test/dense-reference.ts); across backends only acceptance, error code and lengths count.
   */
  exact?: boolean
}

const BAD_P = [-0.1, 1.5, NaN, Infinity, '0.5', null, 1n]
const BAD_U64 = [-1n, 2n ** 64n, 1.5, -1, NaN, 2 ** 64, '7', null, {}]
const BAD_MODE = ['bogus', 1, null, 'Inverted']

function dropoutOptions(a: Args): {
  p: number
  seed: bigint | number
  offset?: bigint | number
  stream?: bigint | number
  mode?: 'inverted' | 'classic'
} {
  const r = a.rng
  const p = a.scalar('p', r.pick([0, 1, 0.5, 0.1, 0.9, r.u32() / 2 ** 32, 1e-9, 0.999999]), BAD_P)
  const seed = a.scalar('seed', r.chance(0.5) ? BigInt(r.u32()) : (BigInt(r.u32()) << 32n) | BigInt(r.u32()), BAD_U64)
  const o: ReturnType<typeof dropoutOptions> = { p, seed }
  if (r.chance(0.6))
    o.offset = a.scalar('offset', r.pick([0n, 3n, 2n ** 32n - 1n, 2n ** 32n + 5n, BigInt(r.int(1000)), 2n ** 64n - 40n]), BAD_U64)
  // Valid only when the call's n is at most 40 (offset + n <= 2^64): allowed to be rejected.
  if (o.offset === 2n ** 64n - 40n) a.taint('offset: 2^64 - 40')
  if (r.chance(0.4)) o.stream = a.scalar('stream', r.pick([0, 1, 7, 2 ** 40]), BAD_U64)
  if (r.chance(0.4)) o.mode = a.scalar('mode', r.pick(['inverted', 'classic'] as const), BAD_MODE)
  return o
}

/** The options as the reference takes them (it computes into a new array, never `out`). */
function withoutOut(o: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...o }
  delete copy.out
  return copy
}

function show(o: object): string {
  return `{ ${Object.entries(o)
    .map(
      ([k, v]) =>
        `${k}: ${ArrayBuffer.isView(v) ? `<${v.constructor.name} ${(v as Float32Array).length}>` : typeof v === 'object' && v !== null ? show(v as object) : describe(v)}`,
    )
    .join(', ')} }`
}

function arr(v: unknown): string {
  return ArrayBuffer.isView(v) ? `<${v.constructor.name} ${(v as Float32Array).length}>` : describe(v)
}

function dropoutLike(a: Args, op: 'dropout' | 'dropoutBackward'): Built {
  const n = a.rng.size()
  const x = a.floats(op === 'dropout' ? 'x' : 'dy', n)
  const opts: Record<string, unknown> = dropoutOptions(a)
  const outKind = a.rng.int(3)
  if (outKind === 1) opts.out = x
  else if (outKind === 2) opts.out = a.floats('out', n)
  const reference = op === 'dropout' ? referenceDropout : referenceDropoutBackward
  const refOptions = withoutOut(opts)
  const expected = a.valid ? [reference(x.slice(), refOptions as never)] : undefined
  const options = a.wrap(opts, [x])
  return {
    text: `tn.${op}(${arr(x)}, ${show(opts)})`,
    call: () => a.tn[op](x, options as never),
    outputs: (y) => [a.current(y as Float32Array)],
    expected,
  }
}

function dropoutMask(a: Args): Built {
  const size = a.rng.size(200)
  const n = a.count('n', size, false)
  const opts: Record<string, unknown> = dropoutOptions(a)
  if (a.rng.chance(0.3)) {
    const words = Math.ceil(size / 32)
    opts.out = a.rng.chance(a.hostility) ? (a.taint('out: wrong length'), new Uint32Array(words + 1)) : new Uint32Array(words)
    a.watched.push(opts.out as Uint32Array)
  }
  const refOptions = withoutOut(opts)
  const expected = a.valid ? [referenceMask(n, refOptions as never)] : undefined
  const options = a.wrap(opts, [])
  return {
    text: `tn.dropoutMask(${describe(n)}, ${show(opts)})`,
    call: () => a.tn.dropoutMask(n, options as never),
    outputs: (y) => [y as Uint32Array],
    expected,
  }
}

function sgdStep(a: Args): Built {
  const n = a.rng.size()
  const w = a.floats('w', n)
  const g = a.floats('g', n)
  const momentum = a.scalar('momentum', a.rng.pick([0, 0.9, 0.5]), [-0.5, NaN, 1.5, '0.9'])
  const velocity = momentum !== 0 || a.rng.chance(0.3) ? a.floats('velocity', n) : undefined
  const opts = {
    lr: a.scalar('lr', a.rng.pick([0.1, 0.01, 1, 0]), [-1, NaN, Infinity, '0.1', undefined]),
    momentum,
    nesterov: a.scalar('nesterov', momentum > 0 && a.rng.chance(0.5), ['yes', 1]),
    weightDecay: a.scalar('weightDecay', a.rng.pick([0, 1e-4, 0.5]), [-1, NaN]),
  }
  const alias = velocity !== undefined && a.rng.chance(0.05)
  if (alias) a.taint('velocity aliases w')
  const v = alias ? w : velocity
  let expected: Output[] | undefined
  if (a.valid) {
    const w2 = w.slice()
    const v2 = v?.slice()
    referenceSgdStep(w2, g, v2, opts)
    expected = [w2, v2]
  }
  const options = a.wrap(opts, [w, g])
  return {
    text: `tn.sgdStep(${arr(w)}, ${arr(g)}, ${arr(v)}, ${show(opts)})`,
    call: () => a.tn.sgdStep(w, g, v, options),
    outputs: () => [a.current(w), a.current(v)],
    expected,
  }
}

function adamStep(a: Args): Built {
  const n = a.rng.size()
  const w = a.floats('w', n)
  const g = a.floats('g', n)
  const m = a.floats('m', n)
  const v = a.floats('v', n, false)
  const opts = {
    lr: a.scalar('lr', a.rng.pick([1e-3, 0.1, 0.5]), [-1, NaN, '1']),
    step: a.count('step', 1 + a.rng.int(1000)),
    beta1: a.scalar('beta1', a.rng.pick([0.9, 0.5, 0]), [1, -0.1, NaN]),
    beta2: a.scalar('beta2', a.rng.pick([0.999, 0.75]), [1, 2, NaN]),
    epsilon: a.scalar('epsilon', a.rng.pick([1e-8, 1e-3, 2]), [0, -1, 1e-50, NaN]),
    weightDecay: a.scalar('weightDecay', a.rng.pick([0, 0.01]), [-1, NaN]),
    decoupled: a.scalar('decoupled', a.rng.chance(0.5), ['true']),
  }
  let expected: Output[] | undefined
  if (a.valid) {
    const [w2, m2, v2] = [w.slice(), m.slice(), v.slice()]
    referenceAdamStep(w2, g, m2, v2, { ...opts })
    expected = [w2, m2, v2]
  }
  const options = a.wrap(opts, [w, m])
  return {
    text: `tn.adamStep(${arr(w)}, ${arr(g)}, ${arr(m)}, ${arr(v)}, ${show(opts)})`,
    call: () => a.tn.adamStep(w, g, m, v, options),
    outputs: () => [a.current(w), a.current(m), a.current(v)],
    expected,
  }
}

function maxNorm(a: Args): Built {
  const inputs = a.rng.size(12)
  const units = a.rng.size(12)
  const w = a.floats('w', inputs * units)
  const opts = {
    inputs: a.count('inputs', inputs),
    units: a.count('units', units),
    c: a.scalar('c', a.rng.pick([1, 0.5, 3, 1e-3]), [0, -1, NaN, Infinity]),
  }
  let expected: Output[] | undefined
  if (a.valid) {
    const w2 = w.slice()
    referenceMaxNorm(w2, inputs, units, opts.c)
    expected = [w2]
  }
  return {
    text: `tn.maxNorm(${arr(w)}, ${show(opts)})`,
    call: () => a.tn.maxNorm(w, a.wrap(opts, [w])),
    outputs: () => [a.current(w)],
    expected,
  }
}

function allFinite(a: Args): Built {
  const x = a.floats('x', a.rng.size(), a.rng.chance(0.5))
  const expected = a.valid ? [referenceAllFinite(x)] : undefined
  return { text: `tn.allFinite(${arr(x)})`, call: () => a.tn.allFinite(x), outputs: (r) => [r as boolean], expected }
}

function gemm(a: Args): Built {
  const [m, k, n] = [a.rng.size(20), a.rng.size(20), a.rng.size(20)]
  const x = a.floats('a', m * k)
  const b = a.floats('b', k * n)
  // Huge sizes only where every size is nonzero, so that they cannot be valid: gemm(m = 2^31,
  // k = 0) is valid and returns 2^32 zeros (16 GB), which is a finding, not something to repeat.
  const huge = m > 0 && k > 0 && n > 0
  const opts: Record<string, unknown> = { m: a.count('m', m, huge), k: a.count('k', k, huge), n: a.count('n', n, huge) }
  if (a.rng.chance(0.3)) opts.out = a.floats('out', m * n)
  else if (a.rng.chance(0.05) && m * n > 0 && ArrayBuffer.isView(x) && x.byteLength > 0) {
    opts.out = x
    a.taint('out aliases a')
  }
  return {
    exact: false,
    text: `tn.gemm(${arr(x)}, ${arr(b)}, ${show(opts)})`,
    call: () => a.tn.gemm(x, b, a.wrap(opts, [x, b]) as never),
    outputs: (y) => [a.current(y as Float32Array)],
  }
}

const ACTIVATIONS = ['linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid'] as const

/** A layer's options and its true sizes (the options' may have been made hostile). */
function layer(a: Args): [Record<string, unknown>, number, number, number] {
  const [rows, inputs, units] = [a.rng.size(9), a.rng.size(9), a.rng.size(9)]
  const huge = rows > 0 && inputs > 0 && units > 0
  const o: Record<string, unknown> = {
    rows: a.count('rows', rows, huge),
    inputs: a.count('inputs', inputs, huge),
    units: a.count('units', units, huge),
    x: a.floats('x', rows * inputs),
    w: a.floats('w', inputs * units),
    activation: a.scalar('activation', a.rng.pick(ACTIVATIONS), ['softmax', 1, null]),
  }
  if (a.rng.chance(0.3)) o.alpha = a.scalar('alpha', 0.2, [NaN, '0.2'])
  if (a.rng.chance(0.3)) o.inputDropout = a.rng.chance(0.25) ? concreteInput(a) : { ...dropoutOptions(a), stream: 1 }
  if (a.rng.chance(0.3)) o.outputDropout = { ...dropoutOptions(a), stream: 2 }
  if (a.rng.chance(0.2)) o.dropConnect = a.rng.chance(0.5) ? { ...dropoutOptions(a), stream: 3 } : { p: 0.25, inference: 'mean' }
  return [o, rows * units, units, inputs * units]
}

/** A concrete inputDropout (docs/DROPOUT-FAMILY.md section 9): rate, temperature and draw, each sometimes bad. */
function concreteInput(a: Args): Record<string, unknown> {
  const r = a.rng
  const o: Record<string, unknown> = {
    kind: 'concrete',
    p: a.scalar('p', r.pick([0.5, 0.1, 0.9, 1e-6, 1 - 1e-6]), [0, 1, NaN, '0.5']),
    seed: a.scalar('seed', BigInt(r.u32()), BAD_U64),
    stream: 1,
  }
  if (r.chance(0.5)) o.temperature = a.scalar('temperature', r.pick([0.1, 1e-6, 1e6, 2]), [0, 2e6, NaN, '0.1'])
  if (r.chance(0.5)) o.offset = a.scalar('offset', r.pick([0n, 3n, 2n ** 32n - 1n]), BAD_U64)
  return o
}

function dense(a: Args, async: boolean): Built {
  const [o, size, units] = layer(a)
  if (a.rng.chance(0.7)) o.b = a.floats('b', units)
  if (a.rng.chance(0.3)) o.out = a.floats('out', size)
  if (a.rng.chance(0.3)) o.pre = a.floats('pre', size)
  if (a.rng.chance(0.03) && o.out !== undefined) {
    o.pre = o.out
    a.taint('pre aliases out')
  }
  const op = async ? 'denseAsync' : 'dense'
  const options = a.wrap(o, [o.x as Float32Array])
  return {
    exact: false,
    text: `tn.${op}(${show(o)})`,
    call: () => a.tn[op](options as never),
    outputs: (y) => [a.current(y as Float32Array), a.current(o.pre as Float32Array | undefined)],
  }
}

function denseBackward(a: Args, async: boolean): Built {
  const [o, size, , weights] = layer(a)
  o.dy = a.floats('dy', size)
  const activation = o.activation
  if (activation === 'gelu' || a.rng.chance(0.5)) o.pre = a.floats('pre', size)
  else if (activation !== 'linear' || a.rng.chance(0.5)) o.y = a.floats('y', size)
  if (a.rng.chance(0.3)) o.need = { dx: a.rng.chance(0.5), dw: a.rng.chance(0.5), db: a.rng.chance(0.5) }
  if (a.rng.chance(0.2)) {
    o.dw = a.floats('dw', weights)
    // A given dw with need.dw false is a documented rejection, not the point here.
    if (o.need !== undefined) (o.need as { dw: boolean }).dw = true
  }
  const op = async ? 'denseBackwardAsync' : 'denseBackward'
  // Its sums come back from denseBackward only: the async form refuses it.
  if (async && (o.inputDropout as { kind?: unknown } | undefined)?.kind === 'concrete')
    a.taint('a concrete inputDropout in denseBackwardAsync')
  const options = a.wrap(o, [o.dy as Float32Array])
  return {
    exact: false,
    text: `tn.${op}(${show(o)})`,
    call: () => a.tn[op](options as never),
    outputs: (r) => {
      const grads = r as { dx?: Float32Array; dw?: Float32Array; db?: Float32Array }
      return [a.current(grads.dx), a.current(grads.dw), a.current(grads.db)]
    },
  }
}

function threads(a: Args): Built {
  const n = a.scalar('n', 1 + a.rng.int(4), [0, -1, 1.5, NaN, Infinity, 2 ** 40, '2', null])
  const before = a.tn.maxThreads
  return {
    text: `tn.setMaxThreads(${describe(n)})`,
    call: () => {
      try {
        a.tn.setMaxThreads(n)
        return a.tn.maxThreads
      } finally {
        a.tn.setMaxThreads(before)
      }
    },
    // The thread count a backend reports is its own (WASM has none): compared with itself only.
    outputs: () => [],
  }
}

export const GENERATORS: Record<string, (a: Args) => Built> = {
  dropout: (a) => dropoutLike(a, 'dropout'),
  dropoutBackward: (a) => dropoutLike(a, 'dropoutBackward'),
  dropoutMask,
  sgdStep,
  adamStep,
  maxNorm,
  allFinite,
  gemm,
  dense: (a) => dense(a, false),
  denseAsync: (a) => dense(a, true),
  denseBackward: (a) => denseBackward(a, false),
  denseBackwardAsync: (a) => denseBackward(a, true),
  setMaxThreads: threads,
  // The dropout family (issue 12): test/fuzz/family.ts.
  ...FAMILY_GENERATORS,
}

export type Op = keyof typeof GENERATORS
