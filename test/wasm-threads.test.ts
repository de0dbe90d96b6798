/**
 * The threaded WASM backend: `load({ backend: 'wasm', threads })` starts threads - 1 worker_threads
 * on the threaded build, and every operation gives the same bits with 1, 2 and 3 threads (the core
 * splits rows and columns, never a sum), the masks the TypeScript reference's. Also: the cap
 * (setMaxThreads), dispose and the absence of leaked workers, and each fallback (no shared memory,
 * no threaded build, a worker that does not start, a module given alone) with its note.
 *
 * The other suites run 'wasm' with two threads (test/backends.ts); this file compares counts (the
 * dense layer's concrete input slot also against the oracle: test/dense-concrete.test.ts).
 */

import { copyFile, mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterAll, describe, expect, it } from 'vitest'

import { layers, load, optimizers, type Thinnet } from '../ts/index.js'
import { nodeWasmPlatform } from '../ts/backends/wasm-fetch-node.js'
import { liveWorkers, WasmWorkers } from '../ts/backends/wasm-threads.js'
import { loadWasm } from '../ts/backends/wasm.js'
import { concreteConstants } from '../ts/concrete.js'
import { referenceMask } from '../ts/reference.js'
import { referenceConcreteBackwardKernel, referenceConcreteKernel } from '../ts/reference-concrete.js'
import { data, expectSameBits, rng } from './util.js'

const folder = fileURLToPath(new URL('../build/', import.meta.url))
const COUNTS = [1, 2, 3] as const
const instances = new Map<number, Thinnet>()
for (const threads of COUNTS) instances.set(threads, await load({ backend: 'wasm', threads }))
afterAll(() => instances.forEach((tn) => tn.dispose()))

/** n finite values in [-1, 1): GEMM and training data (data() mixes in infinities). */
function finite(n: number, seed: number): Float32Array {
  const next = rng(seed)
  return Float32Array.from({ length: n }, () => (next() / 2 ** 32) * 2 - 1)
}

/** Runs `compute` on 1, 2 and 3 threads and expects the same bits from each. */
function expectSameForEveryCount(label: string, compute: (tn: Thinnet) => Float32Array | Uint32Array): void {
  const [first, ...rest] = COUNTS.map((threads) => compute(instances.get(threads)!))
  rest.forEach((result, i) => expectSameBits(result, first, `${label}: ${COUNTS[i + 1]} threads against 1`))
}

describe('threads 1, 2 and 3 give the same bits', () => {
  it('start the threads asked for, on the threaded build, with no note', () => {
    for (const threads of COUNTS) {
      const tn = instances.get(threads)!
      expect([tn.backend, tn.isa, tn.maxThreads, tn.threadsNote]).toEqual(['wasm', 'simd128', threads, undefined])
    }
  })

  it('dropout, its backward and its mask (against the reference), on calls large enough to split', () => {
    const n = (1 << 20) + 37
    const x = data(n, 3)
    const spec = { p: 0.3, seed: 0x1234_5678_9abc_def0n, stream: 5n, offset: (1n << 33n) + 1n }
    expectSameForEveryCount('dropout', (tn) => tn.dropout(x, spec))
    expectSameForEveryCount('dropoutBackward', (tn) => tn.dropoutBackward(x, spec))
    const want = referenceMask(n, spec)
    for (const tn of instances.values()) expectSameBits(tn.dropoutMask(n, spec), want, `mask on ${tn.maxThreads} threads`)
  })

  it('the dropout family: Gaussian dropout, alpha dropout, spatial dropout', () => {
    const x = data(1 << 19, 4)
    expectSameForEveryCount('gaussianDropout', (tn) => tn.gaussianDropout(x, { p: 0.4, seed: 9n }))
    expectSameForEveryCount('alphaDropout', (tn) => tn.alphaDropout(x, { p: 0.2, seed: 9n }))
    expectSameForEveryCount('spatialDropout2d', (tn) => tn.spatialDropout2d(x, { p: 0.5, seed: 9n, shape: [4, 32, 64, 64] }))
  })

  it('concrete dropout, forward and backward with its two sums (blocks of 8192 elements split across threads)', () => {
    const n = (1 << 19) + 8193
    const x = finite(n, 14)
    const dy = finite(n, 15)
    const o = { p: 0.3, temperature: 0.2, seed: 10n, stream: 2n, offset: (1n << 32n) - 7n }
    expectSameForEveryCount('concreteDropout', (tn) => tn.concreteDropout(x, o))
    expectSameForEveryCount('concreteDropoutBackward dx', (tn) => tn.concreteDropoutBackward(dy, x, o).dx)
    const sums = COUNTS.map((threads) => {
      const back = instances.get(threads)!.concreteDropoutBackward(dy, x, o)
      return [back.sumDyY, back.sumDyYS]
    })
    for (const [i, s] of sums.entries()) expect(s, `sums on ${COUNTS[i]} threads against 1`).toEqual(sums[0])
    expect(sums[0].every(Number.isFinite)).toBe(true)
  })

  it('gemm and the fused dense layer, forward and backward, with dropout (several block shapes)', () => {
    for (const [rows, inputs, units] of [
      [128, 300, 257],
      [3, 1024, 512],
      [200, 64, 1024],
    ]) {
      const x = finite(rows * inputs, 5)
      const w = finite(inputs * units, 6)
      const b = finite(units, 7)
      const dy = finite(rows * units, 8)
      const shape = `${rows}x${inputs}x${units}`
      expectSameForEveryCount(`gemm ${shape}`, (tn) => tn.gemm(x, w, { m: rows, k: inputs, n: units }))
      const backward = {
        x,
        w,
        rows,
        inputs,
        units,
        activation: 'relu' as const,
        inputDropout: { p: 0.2, seed: 1n },
        outputDropout: { p: 0.5, seed: 2n },
      }
      const layer = { ...backward, b }
      expectSameForEveryCount(`dense ${shape}`, (tn) => tn.dense(layer))
      for (const part of ['dx', 'dw', 'db'] as const) {
        expectSameForEveryCount(`denseBackward ${shape} ${part}`, (tn) => {
          const y = tn.dense(layer)
          return tn.denseBackward({ ...backward, dy, y })[part]
        })
      }
    }
  })

  it('the dense layer with a concrete inputDropout: y, dx, dw, db and the sums, the oracle composed with the plain layer', () => {
    for (const [rows, inputs, units] of [
      [128, 300, 257],
      [3, 1024, 512],
    ]) {
      const x = finite(rows * inputs, 16)
      const w = finite(inputs * units, 17)
      const dy = finite(rows * units, 18)
      const draws = { seed: 12n, stream: 3n, offset: (1n << 32n) - 5n }
      const inputDropout = { kind: 'concrete' as const, p: 0.3, temperature: 0.2, ...draws }
      const layer = { x, w, rows, inputs, units, activation: 'tanh' as const, inputDropout }
      const shape = `${rows}x${inputs}x${units}`
      const spec = { ...concreteConstants(0.3, 0.2), ...draws }
      const xc = referenceConcreteKernel(x, spec)
      const one = instances.get(1)!
      const plain = { ...layer, x: xc, inputDropout: undefined }
      const yPlain = one.dense(plain)
      const backPlain = one.denseBackward({ ...plain, dy, y: yPlain })
      const want = referenceConcreteBackwardKernel(backPlain.dx, x, spec)
      for (const threads of COUNTS) {
        const tn = instances.get(threads)!
        const y = tn.dense(layer)
        expectSameBits(y, yPlain, `dense ${shape} on ${threads} threads`)
        const g = tn.denseBackward({ ...layer, dy, y })
        expectSameBits(g.dw, backPlain.dw, `dw ${shape} on ${threads} threads`)
        expectSameBits(g.db, backPlain.db, `db ${shape} on ${threads} threads`)
        expectSameBits(g.dx, want.dx, `dx ${shape} on ${threads} threads`)
        expect([g.sumDyY, g.sumDyYS], `sums ${shape} on ${threads} threads`).toEqual([want.sumDyY, want.sumDyYS])
      }
    }
  })

  it('optimizer steps, and a short fit gives the same predictions', async () => {
    const w0 = finite(1 << 18, 9)
    const g = finite(1 << 18, 10)
    expectSameForEveryCount('adamStep', (tn) => {
      const [w, m, v] = [w0.slice(), new Float32Array(w0.length), new Float32Array(w0.length)]
      tn.adamStep(w, g, m, v, { lr: 0.01, step: 1 })
      return w
    })
    const x = finite(256 * 64, 11)
    const y = new Uint8Array(256).map((_, i) => i % 4)
    const predictions: Float32Array[] = []
    for (const tn of instances.values()) {
      const model = tn.sequential(
        [layers.dense({ units: 96, activation: 'relu' }), layers.dropout({ rate: 0.5 }), layers.dense({ units: 4 })],
        {
          inputs: 64,
          seed: 4n,
        },
      )
      await model.fit({ x, y, epochs: 2, batchSize: 64, optimizer: optimizers.adam({ lr: 0.01 }) })
      predictions.push((await model.predict(x)).mean)
    }
    predictions.slice(1).forEach((p, i) => expectSameBits(p, predictions[0], `fit on ${COUNTS[i + 1]} threads against 1`))
  })
})

describe('the cap, dispose and leaks', () => {
  it('setMaxThreads caps the threads within the workers started; results do not change', async () => {
    const tn = await load({ backend: 'wasm', threads: 3 })
    const x = data(1 << 20, 12)
    const want = tn.dropout(x, { p: 0.5, seed: 3n })
    tn.setMaxThreads(2)
    expect(tn.maxThreads).toBe(2)
    expectSameBits(tn.dropout(x, { p: 0.5, seed: 3n }), want, 'capped at 2')
    tn.setMaxThreads(16)
    expect(tn.maxThreads).toBe(3)
    tn.setMaxThreads(0)
    expect(tn.maxThreads).toBe(3)
    tn.dispose()
  })

  it('dispose ends the workers; calls go on, on the calling thread, with the same bits; no worker outlives its instance', async () => {
    const before = liveWorkers()
    const x = data(1 << 20, 13)
    let want: Float32Array | undefined
    for (let round = 0; round < 4; round++) {
      const tn = await load({ backend: 'wasm', threads: 3 })
      expect(liveWorkers()).toBe(before + 2)
      const y = tn.dropout(x, { p: 0.5, seed: 4n })
      want ??= y
      expectSameBits(y, want, `round ${round}`)
      tn.dispose()
      tn.dispose() // twice is harmless
      expect(liveWorkers()).toBe(before)
      expect(tn.maxThreads).toBe(1)
      expectSameBits(tn.dropout(x, { p: 0.5, seed: 4n }), want, `round ${round}, after dispose`)
    }
  })

  it("threads: 1 starts no worker, and 'wasm-scalar' never does", async () => {
    const before = liveWorkers()
    const one = await load({ backend: 'wasm', threads: 1 })
    const scalar = await load({ backend: 'wasm-scalar', threads: 4 })
    expect([one.maxThreads, scalar.maxThreads, liveWorkers()]).toEqual([1, 1, before])
    expect([one.threadsNote, scalar.threadsNote]).toEqual([undefined, undefined])
  })
})

describe('fallbacks, each with its note', () => {
  const x = data(1 << 18, 14)
  const want = referenceMask(x.length, { p: 0.5, seed: 5n })

  it('no SharedArrayBuffer: one thread on the unthreaded build, and the note says why', async () => {
    const saved = globalThis.SharedArrayBuffer
    // @ts-expect-error -- an engine without SharedArrayBuffer, for this test only
    delete globalThis.SharedArrayBuffer
    let tn: Thinnet
    try {
      tn = await load({ backend: 'wasm', threads: 2 })
    } finally {
      globalThis.SharedArrayBuffer = saved
    }
    expect([tn.maxThreads, tn.threadsNote]).toEqual([1, 'one thread: this engine has no SharedArrayBuffer'])
    expectSameBits(tn.dropoutMask(x.length, { p: 0.5, seed: 5n }), want)
  })

  it('a folder without the threaded builds: one thread, the note names the file it could not load', async () => {
    const old = await mkdtemp(join(tmpdir(), 'thinnet-no-threads-'))
    for (const file of ['thinnet_relaxed.wasm', 'thinnet_simd.wasm', 'thinnet_scalar.wasm'])
      await copyFile(join(folder, file), join(old, file))
    const tn = await load({ backend: 'wasm', threads: 2, wasm: `${old}/` })
    expect(tn.maxThreads).toBe(1)
    expect(tn.threadsNote).toMatch(/^one thread: cannot load thinnet_simd_threads\.wasm: cannot read file:.*thinnet_simd_threads\.wasm/)
    expectSameBits(tn.dropoutMask(x.length, { p: 0.5, seed: 5n }), want)
  })

  it('workers that cannot start: fewer threads, and the note says how many and why', async () => {
    const platform = {
      ...nodeWasmPlatform,
      spawnWorker: () => {
        throw new Error('no workers here')
      },
    }
    const backend = await loadWasm({ simd: true, threads: 3, platform })
    expect(backend.maxThreads()).toBe(1)
    expect(backend.threadsNote).toBe('2 of 2 worker threads did not start (the worker could not be created: no workers here); calls use 1')
    const mask = new Uint32Array(Math.ceil(x.length / 32))
    backend.dropoutMask(x.length, mask, { p: 0.5, seed: 5n, stream: 0n, offset: 0n })
    expectSameBits(mask, want)
  })

  it('a worker whose module fails to instantiate is reported as not started', async () => {
    const module = await WebAssembly.compile(await readFile(join(folder, 'thinnet_simd_threads.wasm')))
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }) // too small for the module
    const exports = (await loadWasmExports()).exports
    const started = await WasmWorkers.start(1, module, memory, exports, nodeWasmPlatform.spawnWorker)
    expect(started.workers.count).toBe(0)
    expect(started.note).toMatch(/^1 of 1 worker threads did not start \(the worker could not start the module: .*memory/i)
  })

  it('one module given alone runs threaded if it is a threaded build, else on one thread with a note', async () => {
    const threaded = await load({ backend: 'wasm', threads: 2, wasm: join(folder, 'thinnet_simd_threads.wasm') })
    expect([threaded.maxThreads, threaded.threadsNote]).toEqual([2, undefined])
    threaded.dispose()
    const plain = await load({ backend: 'wasm', threads: 2, wasm: join(folder, 'thinnet_simd.wasm') })
    expect([plain.maxThreads, plain.threadsNote]).toEqual([1, 'one thread: the module given to load({ wasm }) is not a threaded build'])
  })

  it('naming simd128 builds only pins them, threaded too', async () => {
    const tn = await load({ backend: 'wasm', threads: 2, wasm: { simdThreads: join(folder, 'thinnet_simd_threads.wasm') } })
    expect([tn.isa, tn.maxThreads]).toEqual(['simd128', 2])
    tn.dispose()
  })
})

/** A threaded instance's exports, for driving WasmWorkers directly. */
async function loadWasmExports(): Promise<{ exports: Parameters<typeof WasmWorkers.start>[3] }> {
  const module = await WebAssembly.compile(await readFile(join(folder, 'thinnet_simd_threads.wasm')))
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true })
  const instance = await WebAssembly.instantiate(module, { env: { memory } })
  return { exports: instance.exports as unknown as Parameters<typeof WasmWorkers.start>[3] }
}
