/**
 * The backends' own checks, bypassing the facade: the facade validates first, but a binding must
 * never crash or write memory on bad input that reaches it anyway (DESIGN.md, Errors). Each case
 * must throw an error carrying a stable code and leave the arrays untouched.
 */

import { expect, it } from 'vitest'
import type { Backend, ConcreteKernelSpec, DenseArgs, KernelSpec } from '../ts/backend.js'
import { describeEach, loadEach } from './backends.js'
import { data, detach, expectUntouched, snapshot } from './util.js'

const backends = await loadEach(async (name): Promise<Backend> => {
  if (name === 'native') return (await import('../ts/backends/native.js')).loadNative()
  return (await import('../ts/backends/wasm.js')).loadWasm({
    simd: name === 'wasm',
    // Two threads for 'wasm', as test/backends.ts: its threaded build, with a worker.
    threads: name === 'wasm' ? 2 : 1,
    platform: (await import('../ts/backends/wasm-fetch-node.js')).nodeWasmPlatform,
  })
})

const good: KernelSpec = { p: 0.5, seed: 1n, stream: 0n, offset: 0n, mode: 'inverted' }
/** Concrete dropout's constants for p = 0.2, t = 0.1 (ts/concrete.ts concreteConstants). */
const concrete: ConcreteKernelSpec = { bias: Math.fround(-13.862943611198906), invT: 10, scale: 1.25, seed: 1n, stream: 0n, offset: 0n }
const CODES = ['ERR_INVALID_ARG', 'ERR_SHAPE_MISMATCH', 'ERR_INTERNAL']

interface Case {
  what: string
  code: string
  message?: RegExp
  call: (b: Backend, a: { x: Float32Array; out: Float32Array; bits: Uint32Array; shared: Float32Array }) => void
}

const CASES: Case[] = [
  { what: 'out shorter than x', code: 'ERR_SHAPE_MISMATCH', message: /out/, call: (b, { x, out }) => b.dropout(x, out.subarray(1), good) },
  {
    what: 'out longer than dy',
    code: 'ERR_SHAPE_MISMATCH',
    message: /out/,
    call: (b, { x, out }) => b.dropoutBackward(x.subarray(1), out, good),
  },
  { what: 'p = 1.5', code: 'ERR_INVALID_ARG', message: /\bp\b/, call: (b, { x, out }) => b.dropout(x, out, { ...good, p: 1.5 }) },
  { what: 'p = NaN', code: 'ERR_INVALID_ARG', message: /\bp\b/, call: (b, { x, out }) => b.dropout(x, out, { ...good, p: NaN }) },
  {
    what: 'p = -0.5 in the mask',
    code: 'ERR_INVALID_ARG',
    message: /\bp\b/,
    call: (b, { bits }) => b.dropoutMask(37, bits, { ...good, p: -0.5 }),
  },
  {
    what: 'offset + n past 2^64',
    code: 'ERR_INVALID_ARG',
    message: /offset/,
    call: (b, { x, out }) => b.dropout(x, out, { ...good, offset: 2n ** 64n - 2n }),
  },
  {
    what: 'seed = 2^64',
    code: 'ERR_INVALID_ARG',
    message: /seed/,
    call: (b, { x, out }) => b.dropout(x, out, { ...good, seed: 2n ** 64n }),
  },
  { what: 'seed = -1n', code: 'ERR_INVALID_ARG', message: /seed/, call: (b, { x, out }) => b.dropout(x, out, { ...good, seed: -1n }) },
  {
    what: 'stream = 2^64',
    code: 'ERR_INVALID_ARG',
    message: /stream/,
    call: (b, { x, out }) => b.dropout(x, out, { ...good, stream: 2n ** 64n }),
  },
  {
    what: 'mode "train"',
    code: 'ERR_INVALID_ARG',
    message: /mode/,
    call: (b, { x, out }) => b.dropout(x, out, { ...good, mode: 'train' as never }),
  },
  { what: 'mask out too short', code: 'ERR_SHAPE_MISMATCH', message: /out/, call: (b, { bits }) => b.dropoutMask(65, bits, good) },
  {
    what: 'out partially overlapping x',
    code: 'ERR_INVALID_ARG',
    message: /overlap/,
    call: (b, { shared }) => b.dropout(shared.subarray(0, 32), shared.subarray(1, 33), good),
  }, // Concrete dropout: the binding and the core check the constants, lengths, overlaps and range.
  ...(
    [
      ['bias NaN', { bias: NaN }, /bias/],
      ['bias infinite', { bias: -Infinity }, /bias/],
      ['invT 0', { invT: 0 }, /invT/],
      ['invT negative', { invT: -10 }, /invT/],
      ['scale below 1', { scale: 0.5 }, /scale/],
      ['scale infinite', { scale: Infinity }, /scale/],
      ['bias not a float32', { bias: 0.1 }, /spec\.bias must be a float32/],
      ['invT a string', { invT: '10' as never }, /spec\.invT must be a float32/],
      ['offset + n past 2^64', { offset: 2n ** 64n - 2n }, /offset/],
      ['seed = 2^64', { seed: 2n ** 64n }, /seed/],
    ] as const
  ).flatMap(([what, change, message]): Case[] => [
    {
      what: `concreteDropout: ${what}`,
      code: 'ERR_INVALID_ARG',
      message,
      call: (b, { x, out }) => b.concreteDropout(x, out, { ...concrete, ...change }),
    },
    {
      what: `concreteDropoutBackward: ${what}`,
      code: 'ERR_INVALID_ARG',
      message,
      call: (b, { x, out, shared }) => b.concreteDropoutBackward(shared.subarray(0, 37), x, out, { ...concrete, ...change }),
    },
  ]),
  {
    what: 'concreteDropout: out shorter than x',
    code: 'ERR_SHAPE_MISMATCH',
    message: /out/,
    call: (b, { x, out }) => b.concreteDropout(x, out.subarray(1), concrete),
  },
  {
    what: 'concreteDropout: out partially overlapping x',
    code: 'ERR_INVALID_ARG',
    message: /overlap/,
    call: (b, { shared }) => b.concreteDropout(shared.subarray(0, 32), shared.subarray(1, 33), concrete),
  },
  {
    what: 'concreteDropoutBackward: x shorter than dy',
    code: 'ERR_SHAPE_MISMATCH',
    message: /^x must have the length of dy/,
    call: (b, { x, out, shared }) => b.concreteDropoutBackward(shared.subarray(0, 37), x.subarray(1), out, concrete),
  },
  {
    what: 'concreteDropoutBackward: dx longer than dy',
    code: 'ERR_SHAPE_MISMATCH',
    message: /out/,
    call: (b, { x, out, shared }) => b.concreteDropoutBackward(shared.subarray(0, 36), x.subarray(1), out, concrete),
  },
  {
    what: 'concreteDropoutBackward: dx over x',
    code: 'ERR_INVALID_ARG',
    message: /out must not overlap x/,
    call: (b, { x, shared }) => b.concreteDropoutBackward(shared.subarray(0, 37), x, x, concrete),
  },
  {
    what: 'concreteDropoutBackward: dx = dy overlapping x',
    code: 'ERR_INVALID_ARG',
    message: /must not overlap x/,
    call: (b, { shared }) => b.concreteDropoutBackward(shared.subarray(2, 34), shared.subarray(0, 32), shared.subarray(2, 34), concrete),
  },
  {
    what: 'concreteDropoutBackward: dx partially overlapping dy',
    code: 'ERR_INVALID_ARG',
    message: /overlap/,
    call: (b, { x, shared }) => b.concreteDropoutBackward(shared.subarray(0, 37), x, shared.subarray(1, 38), concrete),
  },
]

/** A dense call of 1 row, 37 inputs, 1 unit with a concrete inputDropout (`change` applied to its constants or draw). */
function concreteDense(change: Partial<ConcreteKernelSpec>, withConstants = true): DenseArgs {
  const { bias, invT, scale, seed, stream, offset } = { ...concrete, ...change }
  return {
    rows: 1,
    inputs: 37,
    units: 1,
    activation: 'linear',
    alpha: 0,
    inputDropout: {
      p: 0.2,
      seed,
      stream,
      offset,
      mode: 'inverted',
      kind: 'concrete',
      ...(withConstants ? { concrete: { bias, invT, scale } } : {}),
    },
  }
}

// Concrete dropout in the dense input slot (spec-block kind 6): the same checks, forward and backward.
CASES.push(
  ...(
    [
      ['bias NaN', { bias: NaN }, /bias/],
      ['invT 0', { invT: 0 }, /invT/],
      ['scale below 1', { scale: 0.5 }, /scale/],
      ['bias not a float32', { bias: 0.1 }, /inputDropout\.concrete\.bias must be a float32/],
      ['offset + n past 2^64', { offset: 2n ** 64n - 2n }, /offset/],
    ] as const
  ).flatMap(([what, change, message]): Case[] => [
    {
      what: `dense, concrete input: ${what}`,
      code: 'ERR_INVALID_ARG',
      message,
      call: (b, { x, out, shared }) => b.dense(x, shared.subarray(0, 37), undefined, out.subarray(0, 1), undefined, concreteDense(change)),
    },
    {
      what: `denseBackward, concrete input: ${what}`,
      code: 'ERR_INVALID_ARG',
      message,
      call: (b, { x, out, shared }) =>
        b.denseBackward(x, shared.subarray(0, 37), shared.subarray(40, 41), {}, { dx: out }, concreteDense(change)),
    },
  ]),
  {
    what: 'dense, concrete input without its constants',
    code: 'ERR_INVALID_ARG',
    message: /inputDropout\.concrete must hold/,
    call: (b, { x, out, shared }) => b.dense(x, shared.subarray(0, 37), undefined, out.subarray(0, 1), undefined, concreteDense({}, false)),
  },
  {
    what: 'denseBackward, concrete input without dx',
    code: 'ERR_INVALID_ARG',
    message: /needs dx/,
    call: (b, { x, shared }) => b.denseBackward(x, shared.subarray(0, 37), shared.subarray(40, 41), {}, {}, concreteDense({})),
  },
)

describeEach('backend boundary', backends, (backend) => {
  it.each(CASES.map((c) => [c.what, c] as const))('%s: a coded error, arrays untouched', (_, c) => {
    const arrays = { x: data(37, 1), out: new Float32Array(37).fill(7), bits: new Uint32Array(2).fill(9), shared: data(64, 2) }
    const before = Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, snapshot(v)]))
    let thrown: unknown
    try {
      c.call(backend, arrays)
    } catch (error) {
      thrown = error
    }
    expect(thrown, 'expected an error').toBeInstanceOf(Error)
    const { code, message } = thrown as { code?: unknown; message: string }
    expect(CODES).toContain(code)
    expect({ code, message }).toMatchObject({ code: c.code, message: expect.stringMatching(c.message ?? /./) as unknown })
    for (const [name, array] of Object.entries(arrays)) expectUntouched(array, before[name], name)
  })

  it('a detached x throws a coded error rather than crash', () => {
    const x = new Float32Array(8)
    detach(x.buffer)
    const out = new Float32Array(8).fill(7)
    expect(() => backend.dropout(x, out, good)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) as unknown }))
    expect([...out]).toEqual(new Array(8).fill(7))
  })

  it('takes empty arrays and n = 0', () => {
    const x = new Float32Array(0)
    const out = new Float32Array(0)
    backend.dropout(x, out, good)
    backend.dropoutMask(0, new Uint32Array(0), good)
    backend.concreteDropout(x, out, concrete)
    // n = 0: both sums +0, at the last index of the stream too.
    const sums = backend.concreteDropoutBackward(x, x, out, { ...concrete, offset: 2n ** 64n - 1n })
    expect([Object.is(sums.sumDyY, 0), Object.is(sums.sumDyYS, 0)]).toEqual([true, true])
  })
})
