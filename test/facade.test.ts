/**
 * The facade over a recording reference backend: what reaches a backend (nothing after a
 * validation error; normalised specs; x itself for in-place calls), and how backend errors are
 * turned into ThinnetErrors.
 */

import { describe, expect, it } from 'vitest'
import type { KernelSpec } from '../ts/backend.js'
import { ThinnetError } from '../ts/index.js'
import { createThinnet } from '../ts/thinnet.js'
import { referenceBackend } from './reference-backend.js'
import { expectThinnetError } from './util.js'

describe('the facade', () => {
  it('passes the backend a normalised spec with the defaults filled in', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    tn.dropout(new Float32Array(4), { p: 0.25, seed: 9 })
    tn.dropoutMask(40, { p: 0.25, seed: 9, offset: 3, stream: 2n })
    expect(backend.calls[0].args[2]).toEqual({ p: 0.25, seed: 9n, offset: 0n, stream: 0n, mode: 'inverted' } satisfies KernelSpec)
    const [n, out, spec] = backend.calls[1].args as [number, Uint32Array, unknown]
    expect([n, out.length, spec]).toEqual([40, 2, { p: 0.25, seed: 9n, offset: 3n, stream: 2n }])
  })

  it('calls no backend when validation fails', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    expect(() => tn.dropout(new Float32Array(4), { p: 2, seed: 1 })).toThrow(ThinnetError)
    expect(() => tn.dropoutBackward(new Float32Array(4), { p: 0.5, seed: -1 })).toThrow(ThinnetError)
    expect(() => tn.dropoutMask(4, { p: 0.5, seed: 1, out: new Uint32Array(2) })).toThrow(ThinnetError)
    expect(() => tn.allocate(-1)).toThrow(ThinnetError)
    expect(backend.calls).toEqual([])
  })

  it('hands the backend x itself when out is another view of exactly x, and returns that out', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    const buffer = new ArrayBuffer(64)
    const x = new Float32Array(buffer, 8, 4).fill(1)
    const alias = new Float32Array(buffer, 8, 4)
    expect(tn.dropout(x, { p: 0.5, seed: 1, out: alias })).toBe(alias)
    const [input, output] = backend.calls[0].args as [Float32Array, Float32Array]
    expect(input).toBe(x)
    expect(output).toBe(x)
  })

  it('allocates a fresh output when none is given and returns the given one otherwise', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    const x = new Float32Array(8)
    const y = tn.dropout(x, { p: 0.5, seed: 1 })
    expect(y).not.toBe(x)
    expect(y.length).toBe(8)
    const out = new Float32Array(8)
    expect(tn.dropoutBackward(x, { p: 0.5, seed: 1, out })).toBe(out)
    const bits = new Uint32Array(1)
    expect(tn.dropoutMask(8, { p: 0.5, seed: 1, out: bits })).toBe(bits)
  })

  it('turns a backend error with a stable code into a ThinnetError with that code and the error as cause', () => {
    for (const code of ['ERR_INVALID_ARG', 'ERR_SHAPE_MISMATCH', 'ERR_INTERNAL'] as const) {
      const backend = referenceBackend()
      const original = Object.assign(new Error('a panic was caught in dropout'), { code })
      backend.dropout = () => {
        throw original
      }
      const error = expectThinnetError(
        () => createThinnet(backend).dropout(new Float32Array(3), { p: 0.5, seed: 1 }),
        code,
        /^a panic was caught in dropout$/,
      )
      expect(error.cause).toBe(original)
    }
  })

  it('turns any other backend failure into ERR_INTERNAL naming the backend', () => {
    const backend = referenceBackend('wasm')
    const original = new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded')
    backend.allocate = () => {
      throw original
    }
    const error = expectThinnetError(
      () => createThinnet(backend).allocate(1 << 30),
      'ERR_INTERNAL',
      /^the wasm backend failed unexpectedly: WebAssembly.Memory.grow\(\): Maximum memory size exceeded$/,
    )
    expect(error.cause).toBe(original)
  })

  it('reports the backend name and isa', () => {
    const tn = createThinnet(referenceBackend('wasm-scalar', 'scalar'))
    expect([tn.backend, tn.isa]).toEqual(['wasm-scalar', 'scalar'])
  })
})
