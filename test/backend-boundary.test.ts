/**
 * The backends' own checks, bypassing the facade: the facade validates first, but a binding must
 * never crash or write memory on bad input that reaches it anyway (DESIGN.md, Errors). Each case
 * must throw an error carrying a stable code and leave the arrays untouched.
 */

import { expect, it } from 'vitest'
import type { Backend, KernelSpec } from '../ts/backend.js'
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
  },
]

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
  })
})
