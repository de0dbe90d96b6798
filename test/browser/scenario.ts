/**
 * One fixed scenario, run in Node (test/browser/*.test.ts, on every backend) and in Chromium (the
 * bundled app of test/browser/app, which gets a copy of this very file), so both sides compute
 * the same things from the same inputs and return SHA-256 digests of every output's bytes.
 *
 * Self-contained on purpose: its only import is a type-only import of the facade, which the copy
 * in the app's project rewrites to the bare specifier 'thinnet' (the published package) and which
 * bundlers erase. `tn` and `digest` are parameters, so the same code runs on node:crypto and on
 * crypto.subtle.
 *
 * Two groups of results, because the library pins them differently:
 * - `exact`: what the mask contract makes bit-identical on every backend and instruction set:
 *   dropout, its gradient and the bitmask; the initial weights of a model (drawn in TypeScript);
 *   and dense / denseBackward over products that are exact in float32 (a signed permutation
 *   matrix of powers of two as w; a single row for dw), so any accumulation order, fused or not,
 *   gives the same bits and what is compared is the masks, bias, activation and scaling.
 * - `gemm`: results of general accumulation chains (dense, denseBackward, model.fit, predict).
 *   The GEMM kernels accumulate in k order on every instruction set, fused multiply-add on FMA
 *   machines (avx512, avx2, neon), one multiply then one add elsewhere (crates/thinnet-core/src/
 *   gemm/kernel.rs, scalar.rs), so these are bit-identical across the unfused instruction sets
 *   (WASM simd128 and scalar, in Node and in any browser) and per instruction set otherwise.
 */

import type { Sequential, Thinnet } from '../../ts/index.js'

/** SHA-256 of the bytes, as 64 lowercase hex digits. */
export type Digest = (bytes: Uint8Array) => Promise<string>

export interface ScenarioResult {
  backend: string
  isa: string
  /** label -> digest: bit-identical on every backend and instruction set. */
  exact: Record<string, string>
  /** label -> digest: bit-identical on instruction sets without FMA (see `unfusedIsa`). */
  gemm: Record<string, string>
}

/** Instruction sets whose GEMM multiplies and adds separately, so that `gemm` results agree across them. */
export function unfusedIsa(isa: string): boolean {
  return isa === 'simd128' || isa === 'scalar'
}

/** A deterministic xorshift32 stream of numbers in [0, 1). */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

/** n float32 in [lo, hi), from `seed`. */
export function floats(n: number, seed: number, lo = -4, hi = 4): Float32Array {
  const next = uniform(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + next() * (hi - lo)
  return out
}

/** Like `floats`, with awkward values mixed in: -0, infinities, subnormals, the largest float. */
function awkward(n: number, seed: number): Float32Array {
  const specials = [-0, Infinity, -Infinity, 1e-45, -3e-40, 3.4028234663852886e38, 1, -1]
  const next = uniform(seed ^ 0x5bd1e995)
  const out = floats(n, seed)
  for (let i = 0; i < n; i++) if (next() < 1 / 17) out[i] = specials[Math.floor(next() * specials.length)]!
  return out
}

function bytes(a: Float32Array | Uint32Array | Float64Array | Uint8Array): Uint8Array {
  // A copy: a result may be a view over memory that the next call replaces.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice()
}

const SIZES = [0, 1, 3, 4, 5, 31, 33, 1000, 1_000_003]
const DROPOUT_SPECS = [
  { p: 0.5, seed: 42n, offset: 0n, stream: 0n },
  { p: 0.3, seed: (1n << 64n) - 1n, offset: (1n << 32n) + 5n, stream: 7n },
  { p: 0.9, seed: (1n << 53n) + 1n, offset: (1n << 34n) - 3n, stream: 1n },
] as const
const MODES = ['inverted', 'classic'] as const

/** The inputs and labels of the small classification task that `trainModel` fits. */
export function fitData(): { x: Float32Array; y: Uint8Array; inputs: number; classes: number } {
  const rows = 48
  const inputs = 10
  const classes = 3
  const x = floats(rows * inputs, 77, -1, 1)
  const y = new Uint8Array(rows)
  for (let r = 0; r < rows; r++) {
    // The class with the largest of three fixed sums of features.
    const score = [0, 1, 2].map((c) => x.subarray(r * inputs, (r + 1) * inputs).reduce((s, v, i) => s + v * (((i + c) % 3) - 1), 0))
    y[r] = score.indexOf(Math.max(...score))
  }
  return { x, y, inputs, classes }
}

/** A fresh, untrained dense+dropout model (seeded: the same initial weights on every backend). */
export function makeModel(tn: Thinnet, seed = 7n): Sequential {
  const { inputs, classes } = fitData()
  return tn.sequential(
    [
      tn.layers.dropout({ rate: 0.2 }),
      tn.layers.dense({ units: 16, activation: 'relu' }),
      tn.layers.dropout({ rate: 0.5 }),
      tn.layers.dense({ units: 12, activation: 'relu' }),
      tn.layers.dropout({ rate: 0.25 }),
      tn.layers.dense({ units: classes }),
    ],
    { inputs, seed },
  )
}

/** `makeModel` after a seeded fit: 3 epochs of 16-row batches (the last one short), Adam. */
export async function trainModel(tn: Thinnet, seed = 7n): Promise<Sequential> {
  const model = makeModel(tn, seed)
  const { x, y } = fitData()
  await model.fit({ x, y, epochs: 3, batchSize: 20, optimizer: tn.optimizers.adam({ lr: 0.01 }) })
  return model
}

/** Inputs for predictions: other rows than the training set's. */
export function predictInputs(): Float32Array {
  return floats(13 * fitData().inputs, 99, -1.5, 1.5)
}

/** Digests of a model's predictions on `predictInputs()`: weight scaling and Monte Carlo (T = 4). */
export async function predictionDigests(model: Sequential, digest: Digest): Promise<Record<string, string>> {
  const x = predictInputs()
  const ws = await model.predict(x)
  const mc = await model.predict(x, { inference: 'mc', samples: 4 })
  return {
    'predict weight-scaling mean': await digest(bytes(ws.mean)),
    'predict weight-scaling classes': await digest(
      bytes(new Uint8Array(ws.classes!.buffer, ws.classes!.byteOffset, ws.classes!.byteLength)),
    ),
    'predict mc mean': await digest(bytes(mc.mean)),
    'predict mc variance': await digest(bytes(mc.variance)),
    'predict mc entropy': await digest(bytes(mc.entropy!)),
  }
}

/** A signed permutation of powers of two as an n x n weight matrix: products with it are exact. */
function exactWeights(n: number): Float32Array {
  const w = new Float32Array(n * n)
  for (let k = 0; k < n; k++) w[k * n + ((k * 7 + 3) % n)] = (k % 2 === 0 ? 1 : -1) * 2 ** ((k % 5) - 2)
  return w
}

export async function runScenario(tn: Thinnet, digest: Digest): Promise<ScenarioResult> {
  const exact: Record<string, string> = {}
  const gemm: Record<string, string> = {}
  const put = async (group: Record<string, string>, label: string, a: Float32Array | Uint32Array | Float64Array) => {
    if (label in group) throw new Error(`scenario: duplicate label ${label}`)
    group[label] = await digest(bytes(a))
  }

  // Dropout, its gradient and the bitmask: awkward sizes, offsets above 2^32, both modes.
  for (const n of SIZES) {
    const x = awkward(n, n + 1)
    const dy = awkward(n, n + 2)
    for (const [s, spec] of DROPOUT_SPECS.entries()) {
      if (n === 1_000_003 && s > 0) continue // one large case is enough
      for (const mode of MODES) {
        await put(exact, `dropout n=${n} spec ${s} ${mode}`, tn.dropout(x, { ...spec, mode }))
        await put(exact, `dropoutBackward n=${n} spec ${s} ${mode}`, tn.dropoutBackward(dy, { ...spec, mode }))
      }
      await put(exact, `dropoutMask n=${n} spec ${s}`, tn.dropoutMask(n, spec))
    }
  }

  // Dense over an exact product: every backend, every instruction set.
  {
    const rows = 9
    const n = 37
    const layer = {
      rows,
      inputs: n,
      units: n,
      activation: 'relu' as const,
      inputDropout: { p: 0.2, seed: 11n, stream: 0n, offset: (1n << 32n) + 3n },
      outputDropout: { p: 0.5, seed: 11n, stream: 1n, offset: 5n },
    }
    const x = floats(rows * n, 21)
    const w = exactWeights(n)
    const b = floats(n, 22, -1, 1)
    for (const mode of MODES) {
      const spec = { ...layer, inputDropout: { ...layer.inputDropout, mode }, outputDropout: { ...layer.outputDropout, mode } }
      const y = tn.dense({ ...spec, x, w, b })
      await put(exact, `dense exact ${mode} y`, y)
      const dy = floats(rows * n, 23)
      const { dx } = tn.denseBackward({ ...spec, x, w, y, dy, need: { dw: false, db: false } })
      await put(exact, `denseBackward exact ${mode} dx`, dx)
      // One row: dw is an outer product (one rounding per element), db a copy.
      const one = { ...spec, rows: 1, x: x.subarray(0, n) }
      const y1 = tn.dense({ ...one, w, b })
      const g1 = tn.denseBackward({ ...one, w, y: y1, dy: dy.subarray(0, n) })
      await put(exact, `denseBackward exact ${mode} one row dw`, g1.dw)
      await put(exact, `denseBackward exact ${mode} one row db`, g1.db)
    }
  }

  // Dense and its gradients over general products: identical across unfused instruction sets.
  for (const [rows, inputs, units] of [
    [7, 33, 17],
    [64, 129, 65],
  ] as const) {
    const layer = {
      rows,
      inputs,
      units,
      activation: 'relu' as const,
      inputDropout: { p: 0.2, seed: 5n, stream: 0n, offset: (1n << 32n) + 1n },
      outputDropout: { p: 0.5, seed: 5n, stream: 1n },
    }
    const x = floats(rows * inputs, rows + inputs)
    const w = floats(inputs * units, units, -0.5, 0.5)
    const b = floats(units, units + 1, -0.5, 0.5)
    const y = tn.dense({ ...layer, x, w, b })
    await put(gemm, `dense ${rows}x${inputs}x${units} y`, y)
    const dy = floats(rows * units, rows * units)
    const { dx, dw, db } = tn.denseBackward({ ...layer, x, w, y, dy })
    await put(gemm, `denseBackward ${rows}x${inputs}x${units} dx`, dx)
    await put(gemm, `denseBackward ${rows}x${inputs}x${units} dw`, dw)
    await put(gemm, `denseBackward ${rows}x${inputs}x${units} db`, db)
  }

  // A seeded fit: initial weights are exact everywhere, trained ones per GEMM kind.
  {
    const fresh = makeModel(tn)
    await put(exact, 'model initial weights', bytesAsFloats(fresh.toArtifacts().weights))
    fresh.dispose()
    const model = await trainModel(tn)
    await put(gemm, 'model.fit weights', bytesAsFloats(model.toArtifacts().weights))
    for (const [label, hex] of Object.entries(await predictionDigests(model, digest))) gemm[label] = hex
    model.dispose()
  }

  return { backend: tn.backend, isa: tn.isa, exact, gemm }
}

function bytesAsFloats(b: Uint8Array): Float32Array {
  if (b.byteLength % 4 !== 0) throw new Error(`scenario: weights of ${b.byteLength} bytes are not float32s`)
  const copy = b.slice()
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4)
}
