/**
 * The reused bytes of the bindings' records and headers (ts/backends/scratch-bytes.ts): each call
 * sees only its own bytes, zeroed where it wrote nothing, even when writing one record runs a
 * backend caller's getter that makes another call.
 */

import { describe, expect, it } from 'vitest'
import type { Backend, KernelSpec } from '../ts/backend.js'
import { ScratchBytes } from '../ts/backends/scratch-bytes.js'
import { describeEach, loadEach } from './backends.js'

describe('ScratchBytes', () => {
  it('zeroes what the previous fill wrote and this one does not', () => {
    const scratch = new ScratchBytes(16)
    scratch.fill(16, (view) => view.setFloat64(8, 1.5, true))
    const second = scratch.fill(16, (view) => view.setUint32(0, 7, true))
    expect([...second]).toEqual([7, ...new Array<number>(15).fill(0)])
  })

  it('returns the length asked for, and fresh bytes past its size', () => {
    const scratch = new ScratchBytes(16)
    expect(scratch.fill(8, () => undefined).length).toBe(8)
    const long = scratch.fill(24, (view) => view.setUint8(23, 9))
    expect(long.length).toBe(24)
    expect(long[23]).toBe(9)
    expect(long.buffer.byteLength).toBe(24)
  })

  it('gives a fill begun inside another its own bytes, and leaves the outer one whole', () => {
    const scratch = new ScratchBytes(8)
    let inner: Uint8Array | undefined
    const outer = scratch.fill(8, (view) => {
      view.setUint8(0, 1)
      inner = scratch.fill(8, (innerView) => innerView.setUint8(0, 2))
      view.setUint8(1, 3)
    })
    expect([...outer.subarray(0, 2)]).toEqual([1, 3])
    expect(inner?.[0]).toBe(2)
    expect(inner?.buffer).not.toBe(outer.buffer)
  })

  it('is free again after a write that threw', () => {
    const scratch = new ScratchBytes(8)
    const first = scratch.fill(8, () => undefined)
    expect(() =>
      scratch.fill(8, () => {
        throw new Error('bad spec')
      }),
    ).toThrow('bad spec')
    expect(scratch.fill(8, () => undefined).buffer).toBe(first.buffer)
  })
})

const backends = await loadEach(async (name): Promise<Backend> => {
  if (name === 'native') return (await import('../ts/backends/native.js')).loadNative()
  return (await import('../ts/backends/wasm.js')).loadWasm({
    simd: name === 'wasm',
    threads: 1,
    platform: (await import('../ts/backends/wasm-fetch-node.js')).nodeWasmPlatform,
  })
})

describeEach('records written while another is written', backends, (backend) => {
  it("a spec's getter that calls dropout changes neither call's output", () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => i + 1)
    const outer: KernelSpec = { p: 0.3, seed: 11n, stream: 2n, offset: 5n, mode: 'classic' }
    const inner: KernelSpec = { p: 0.7, seed: 99n, stream: 0n, offset: 0n, mode: 'inverted' }
    const [wantOuter, wantInner] = [new Float32Array(100), new Float32Array(100)]
    backend.dropout(x, wantOuter, outer)
    backend.dropout(x, wantInner, inner)

    const [gotOuter, gotInner] = [new Float32Array(100), new Float32Array(100)]
    const hostile = {
      ...outer,
      get seed(): bigint {
        backend.dropout(x, gotInner, inner)
        return outer.seed
      },
    }
    backend.dropout(x, gotOuter, hostile)
    expect(gotInner).toEqual(wantInner)
    expect(gotOuter).toEqual(wantOuter)
  })
})
