/**
 * The relaxed-SIMD build (issue 14): 'wasm' picks it where the engine validates relaxed SIMD. Node
 * 20 has it only behind --experimental-wasm-relaxed-simd, so these run a child Node with the flag
 * on the compiled package (dist/, built before vitest by `npm test`). Masks and noise must equal
 * the simd128 build's bit for bit (no relaxed instruction touches them); the GEMM
 * may round once where simd128 rounds twice, so dense outputs are compared within a bound.
 * Chromium runs the relaxed build through the whole browser scenario (test/browser/bundle.test.ts).
 */

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { wasmFile } from '../ts/backends/wasm-module.js'

const run = promisify(execFile)

/** Node 20 has relaxed SIMD behind this V8 flag; newer Node has it on (and may drop the flag). */
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd'
const relaxedFlag = await run(process.execPath, [RELAXED_FLAG, '-e', '0']).then(
  () => [RELAXED_FLAG],
  () => [],
)

/** Runs an ES module script in a Node with relaxed SIMD; returns its stdout. */
async function relaxedNode(script: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...relaxedFlag, '--input-type=module', '-e', script], {
    cwd: new URL('..', import.meta.url),
  })
  return stdout
}

it('picks the relaxed build where relaxed SIMD validates, unless the location names the simd128 build alone', () => {
  expect(wasmFile(true, undefined, true)).toBe('thinnet_relaxed.wasm')
  expect(wasmFile(true, undefined, false)).toBe('thinnet_simd.wasm')
  expect(wasmFile(false, undefined, true)).toBe('thinnet_scalar.wasm')
  const url = new URL('file:///x/')
  expect(wasmFile(true, { folder: url }, true)).toBe('thinnet_relaxed.wasm')
  const none = { relaxed: undefined, simd: undefined, scalar: undefined, relaxedThreads: undefined, simdThreads: undefined }
  expect(wasmFile(true, { ...none, simd: url }, true)).toBe('thinnet_simd.wasm')
  expect(wasmFile(true, { ...none, relaxed: url, simd: url }, true)).toBe('thinnet_relaxed.wasm')
  // The threaded builds follow the same rule.
  expect(wasmFile(true, undefined, true, true)).toBe('thinnet_relaxed_threads.wasm')
  expect(wasmFile(true, undefined, false, true)).toBe('thinnet_simd_threads.wasm')
  expect(wasmFile(false, undefined, true, true)).toBe('thinnet_scalar.wasm')
  expect(wasmFile(true, { ...none, simdThreads: url }, true, true)).toBe('thinnet_simd_threads.wasm')
  expect(wasmFile(true, { ...none, simd: url }, true, true)).toBe('thinnet_simd_threads.wasm')
  expect(wasmFile(true, { ...none, simdThreads: url, relaxedThreads: url }, true, true)).toBe('thinnet_relaxed_threads.wasm')
})

it('in a Node with relaxed SIMD, thinnet backends runs wasm on it with the reference bits', async () => {
  const { stdout } = await run(process.execPath, [...relaxedFlag, 'dist/cli/main.js', 'backends'], {
    cwd: new URL('..', import.meta.url),
  })
  expect(stdout).toMatch(/^wasm +isa relaxed-simd$/m)
  expect(stdout).toMatch(/all 3 backends give the same bits .* equal to the reference/)
})

it("gives the simd128 build's bits for masks and noise, and its GEMM and training within rounding", async () => {
  const out = await relaxedNode(`
    import { load, layers } from './dist/index.js'
    const relaxed = await load({ backend: 'wasm' })
    const simd = await load({ backend: 'wasm', wasm: { simd: new URL('build/thinnet_simd.wasm', 'file://' + process.cwd() + '/') } })
    const same = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
    const x = Float32Array.from({ length: 4099 }, (_, i) => Math.sin(i) * 3)
    const o = { p: 0.3, seed: 7n, stream: 2n, offset: 5n }
    const checks = {
      dropout: same(relaxed.dropout(x, o), simd.dropout(x, o)),
      mask: same(relaxed.dropoutMask(4099, o), simd.dropoutMask(4099, o)),
      gaussian: same(relaxed.gaussianDropout(x, o), simd.gaussianDropout(x, o)),
      alpha: same(relaxed.alphaDropout(x, o), simd.alphaDropout(x, o)),
    }
    const [rows, k, n] = [33, 300, 70]
    const xa = Float32Array.from({ length: rows * k }, (_, i) => Math.sin(i))
    const w = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i) * 0.05)
    const args = { x: xa, w, rows, inputs: k, units: n, activation: 'relu', outputDropout: { ...o, p: 0.5 } }
    const a = relaxed.dense(args), b = simd.dense(args)
    let maxAbs = 0, zerosAgree = true
    for (let i = 0; i < a.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i])); if ((a[i] === 0) !== (b[i] === 0) && Math.abs(b[i]) > 1e-4) zerosAgree = false }
    checks.denseMasks = zerosAgree
    // One model trained on each: the same seed, so the same masks; weights within rounding.
    const build = (tn) => tn.sequential([layers.dense({ units: 16, activation: 'relu' }), layers.dropout({ rate: 0.3 }), layers.dense({ units: 3 })], { inputs: 8, seed: 3n })
    const xs = Float32Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i * 0.7))
    const ys = Uint8Array.from({ length: 64 }, (_, i) => i % 3)
    const m1 = build(relaxed), m2 = build(simd)
    const h1 = await m1.fit({ x: xs, y: ys, epochs: 3, batchSize: 16 }), h2 = await m2.fit({ x: xs, y: ys, epochs: 3, batchSize: 16 })
    console.log(JSON.stringify({ isa: [relaxed.isa, simd.isa], checks, maxAbs, loss: [h1.epochs[2].loss, h2.epochs[2].loss] }))
  `)
  const r = JSON.parse(out) as { isa: string[]; checks: Record<string, boolean>; maxAbs: number; loss: number[] }
  expect(r.isa).toEqual(['relaxed-simd', 'simd128'])
  expect(r.checks).toEqual({ dropout: true, mask: true, gaussian: true, alpha: true, denseMasks: true })
  // Sums of 300 products of magnitude <= 0.05: a few float32 ulps of the result, never more.
  expect(r.maxAbs).toBeLessThan(1e-5)
  expect(Math.abs(r.loss[0] - r.loss[1])).toBeLessThan(1e-4)
})
