/**
 * Damaged model files (issue 11, item 7, "Model files"): every damage a saved folder can suffer is
 * a ThinnetError with a code naming what is wrong, raised before the model is built, never a raw
 * fs error, a hang or a model that loads and predicts garbage. Folders are made in a temp dir from
 * a small model saved by the library, then damaged: a flipped bit (caught by the v2 checksum),
 * NaN and infinite weights, misaligned, overlapping and out-of-range tensor offsets, a file with
 * bytes no tensor claims, layers declaring huge sizes, and every bad `weights.file`, including a
 * directory and a FIFO.
 */

import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { layers, load, optimizers, type ModelArtifacts, type ModelJSON, type Sequential, type Thinnet } from '../ts/index.js'
import { crc32 } from '../ts/model/crc32.js'
import { fromArtifacts } from '../ts/model/deserialize.js'
import type { Ops } from '../ts/ops-port.js'
import { expectSameBits, expectThinnetError, expectThinnetRejection } from './util.js'

const MLP = [layers.dense({ units: 5, activation: 'relu' }), layers.dropout({ rate: 0.5 }), layers.dense({ units: 3 })]

let tn: Thinnet
let model: Sequential
let root: string
let folder = 0

beforeAll(async () => {
  tn = await load()
  model = tn.sequential(MLP, { inputs: 4, seed: 7n })
  root = await mkdtemp(join(tmpdir(), 'thinnet-model-files-'))
})

afterAll(async () => {
  model.dispose()
  await rm(root, { recursive: true, force: true })
})

/** The saved model's JSON and weights, fresh copies. */
function artifacts(): { json: ModelJSON; weights: Uint8Array } {
  const { json, weights } = model.toArtifacts()
  return { json: structuredClone(json), weights: weights.slice() }
}

/** A folder holding `json` as model.json and `weights` under the file name json.weights.file (if it is one). */
async function saveFolder(json: unknown, weights?: Uint8Array): Promise<string> {
  const dir = join(root, `m${folder++}`)
  await mkdir(dir)
  await writeFile(join(dir, 'model.json'), JSON.stringify(json))
  if (weights !== undefined) await writeFile(join(dir, 'weights.bin'), weights)
  return dir
}

/** Writes `value` as the little-endian float32 at index `i` of tensor `k`. */
function poke(json: ModelJSON, weights: Uint8Array, k: number, i: number, value: number): void {
  new DataView(weights.buffer, weights.byteOffset).setFloat32(json.weights.tensors[k].byteOffset + 4 * i, value, true)
}

/** The JSON of a v2 save whose checksum matches `weights` again (to test what lies behind it). */
function resum(json: ModelJSON, weights: Uint8Array): ModelJSON {
  return { ...json, weights: { ...json.weights, crc32: crc32(weights).toString(16).padStart(8, '0') } }
}

/** json.weights without its checksum, as version 1 wrote it. */
function withoutChecksum(json: ModelJSON): ModelJSON['weights'] {
  const weights = { ...json.weights }
  delete weights.crc32
  return weights
}

/** An Ops that records every allocation and delegates to `tn`. */
function countingOps(allocations: number[]): Ops {
  return {
    backend: tn.backend,
    allocate: (n) => {
      allocations.push(n)
      return tn.allocate(n)
    },
    dense: (o) => tn.dense(o),
    denseAsync: (o) => tn.denseAsync(o),
    denseBackward: (o) => tn.denseBackward(o),
    denseBackwardAsync: (o) => tn.denseBackwardAsync(o),
    sgdStep: (w, g, v, o) => tn.sgdStep(w, g, v, o),
    adamStep: (w, g, m, v, o) => tn.adamStep(w, g, m, v, o),
    maxNorm: (w, o) => tn.maxNorm(w, o),
    allFinite: (x) => tn.allFinite(x),
    noise: (x, o) => tn.noise(x, o),
    concreteDropout: (x, o) => tn.concreteDropout(x, o),
    concreteDropoutBackward: (dy, x, o) => tn.concreteDropoutBackward(dy, x, o),
  }
}

describe('crc32', () => {
  it('is the CRC-32 of zlib and PNG', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d)
  })
})

describe('format version 2: a checksum of the weights', () => {
  it('is written by save and verified by load', () => {
    const { json, weights } = artifacts()
    expect(json.version).toBe(2)
    expect(json.weights.crc32).toBe(crc32(weights).toString(16).padStart(8, '0'))
    const again = tn.modelFromArtifacts({ json, weights })
    again.dispose()
  })

  it('a flipped bit is ERR_INVALID_ARG naming the weights file', async () => {
    const { json, weights } = artifacts()
    // A low mantissa bit: the weight stays finite and plausible, only the checksum can tell.
    weights[json.weights.tensors[2].byteOffset + 4] ^= 1
    expectThinnetError(() => tn.modelFromArtifacts({ json, weights }), 'ERR_INVALID_ARG', /weights\.bin.*checksum/)
    await expectThinnetRejection(tn.loadModel(await saveFolder(json, weights)), 'ERR_INVALID_ARG', /weights\.bin.*checksum/)
  })

  it('a v2 model.json without its checksum, or with a malformed one, is refused', () => {
    const { json, weights } = artifacts()
    const rest = withoutChecksum(json)
    expectThinnetError(
      () => tn.modelFromArtifacts({ json: { ...json, weights: rest }, weights }),
      'ERR_INVALID_ARG',
      /json\.weights\.crc32/,
    )
    expectThinnetError(
      () => tn.modelFromArtifacts({ json: { ...json, weights: { ...rest, crc32: 'xyz' } }, weights }),
      'ERR_INVALID_ARG',
      /json\.weights\.crc32/,
    )
  })

  it('a version 1 save (no checksum) still loads, bit for bit', async () => {
    const { json, weights } = artifacts()
    const v1 = { ...json, version: 1 as const, weights: withoutChecksum(json) }
    const again = await tn.loadModel(await saveFolder(v1, weights))
    try {
      model.fused.forEach((layer, i) => {
        expectSameBits(again.fused[i].parameters().w, layer.parameters().w, `w ${i}`)
        expectSameBits(again.fused[i].parameters().b, layer.parameters().b, `b ${i}`)
      })
    } finally {
      again.dispose()
    }
  })
})

describe('weights that are not numbers', () => {
  for (const [label, value, pattern] of [
    ['NaN', NaN, /json\.weights\.tensors\[2\] \(w of layer 1\) holds NaN at index 3/],
    ['+Infinity', Infinity, /json\.weights\.tensors\[2\] \(w of layer 1\) holds Infinity at index 3/],
    ['-Infinity', -Infinity, /json\.weights\.tensors\[2\] \(w of layer 1\) holds -Infinity at index 3/],
  ] as const) {
    it(`${label} (in a v1 and a v2 save) is ERR_INVALID_ARG naming the tensor`, () => {
      const { json, weights } = artifacts()
      poke(json, weights, 2, 3, value)
      expectThinnetError(() => tn.modelFromArtifacts({ json: resum(json, weights), weights }), 'ERR_INVALID_ARG', pattern)
      expectThinnetError(
        () => tn.modelFromArtifacts({ json: { ...json, version: 1, weights: withoutChecksum(json) }, weights }),
        'ERR_INVALID_ARG',
        pattern,
      )
    })
  }

  it('huge but finite weights (3e38) load as they are: any finite float32 is a weight', () => {
    const { json, weights } = artifacts()
    poke(json, weights, 0, 0, 3e38)
    const again = tn.modelFromArtifacts({ json: resum(json, weights), weights })
    try {
      expect(again.fused[0].parameters().w[0]).toBe(Math.fround(3e38))
    } finally {
      again.dispose()
    }
  })
})

describe('tensor offsets', () => {
  /** The artifacts with tensor k's byteOffset replaced. */
  function withOffset(k: number, byteOffset: unknown): { json: ModelJSON; weights: Uint8Array } {
    const { json, weights } = artifacts()
    const tensors = json.weights.tensors.map((t, i) => (i === k ? { ...t, byteOffset } : t))
    return { json: { ...json, weights: { ...json.weights, tensors } } as ModelJSON, weights }
  }

  it('misaligned (not a multiple of 4) is ERR_SHAPE_MISMATCH naming the tensor', () => {
    // The last tensor (b of layer 1, 3 values) moved 2 bytes back still fits in the file.
    const t = artifacts().json.weights.tensors[3]
    expectThinnetError(
      () => tn.modelFromArtifacts(withOffset(3, t.byteOffset - 2)),
      'ERR_SHAPE_MISMATCH',
      /tensors\[3\]\.byteOffset .* multiple of 4/,
    )
  })

  it('overlapping another tensor is ERR_SHAPE_MISMATCH naming both', () => {
    expectThinnetError(
      () => tn.modelFromArtifacts(withOffset(1, 0)),
      'ERR_SHAPE_MISMATCH',
      /tensors\[1\] .*overlaps json\.weights\.tensors\[0\]/,
    )
  })

  it('out of range or not an offset is ERR_SHAPE_MISMATCH', () => {
    const { weights } = artifacts()
    for (const offset of [weights.length, -4, 1.5, '0', 2 ** 60]) {
      expectThinnetError(() => tn.modelFromArtifacts(withOffset(0, offset)), 'ERR_SHAPE_MISMATCH', /tensors\[0\]\.byteOffset/)
    }
  })

  it('bytes that no tensor claims are ERR_SHAPE_MISMATCH', () => {
    const { json, weights } = artifacts()
    const longer = new Uint8Array(weights.length + 8)
    longer.set(weights)
    const declared = {
      ...json,
      weights: { ...json.weights, byteLength: longer.length, crc32: crc32(longer).toString(16).padStart(8, '0') },
    }
    expectThinnetError(
      () => tn.modelFromArtifacts({ json: declared, weights: longer }),
      'ERR_SHAPE_MISMATCH',
      /declare .* bytes .*cover them exactly/,
    )
  })
})

describe('declared sizes are checked before anything is allocated', () => {
  for (const [inputs, units] of [
    [8192, 8192],
    [65536, 65535],
    [2 ** 26, 2 ** 26],
  ] as const) {
    it(`${inputs} x ${units} declared beside a small weights file: ERR_SHAPE_MISMATCH or ERR_INVALID_ARG, no allocation`, () => {
      const { json, weights } = artifacts()
      const big = { ...json, inputs, layers: [{ ...json.layers[0], units }, json.layers[1], json.layers[2]] }
      const allocations: number[] = []
      const error = expectThinnetError(
        () => fromArtifacts(countingOps(allocations), { json: big, weights }),
        inputs * units > 2 ** 29 ? 'ERR_INVALID_ARG' : 'ERR_SHAPE_MISMATCH',
        /json\.layers/,
      )
      expect(error.message).toMatch(inputs * units > 2 ** 29 ? /limit/ : /bytes/)
      expect(allocations).toEqual([])
    })
  }

  it('a valid model allocates (the counting port sees the calls)', () => {
    const allocations: number[] = []
    fromArtifacts(countingOps(allocations), artifacts()).dispose()
    expect(allocations.length).toBeGreaterThan(0)
  })
})

describe('weights.file', () => {
  const names: [string, unknown][] = [
    ['"."', '.'],
    ['".."', '..'],
    ['an empty name', ''],
    ['a path with /', 'sub/weights.bin'],
    ['a path with \\', 'sub\\weights.bin'],
    ['a NUL byte', 'weights\0.bin'],
    ['an over-long name', 'w'.repeat(300)],
    ['a number', 7],
  ]
  for (const [label, file] of names) {
    it(`${label} is ERR_INVALID_ARG naming weights.file`, async () => {
      const { json, weights } = artifacts()
      const dir = await saveFolder({ ...json, weights: { ...json.weights, file } }, weights)
      await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /weights\.file/)
    })
  }

  it('a directory is ERR_INVALID_ARG, not EISDIR', async () => {
    const { json, weights } = artifacts()
    const dir = await saveFolder({ ...json, weights: { ...json.weights, file: 'sub' } }, weights)
    await mkdir(join(dir, 'sub'))
    await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /sub is not a regular file \(a directory\)/)
  })

  it('a missing file is ERR_INVALID_ARG naming it', async () => {
    const { json } = artifacts()
    const dir = await saveFolder(json)
    await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /weights\.bin/)
  })

  it('a FIFO is ERR_INVALID_ARG and does not hang', { timeout: 10_000 }, async () => {
    const { json } = artifacts()
    const dir = await saveFolder({ ...json, weights: { ...json.weights, file: 'fifo' } })
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    try {
      await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /fifo is not a regular file \(a FIFO\)/)
    } finally {
      // Without the fix a read blocks waiting for a writer: open one and close it, so the blocked
      // read ends (EOF) and the worker can exit.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        // No reader: nothing is blocked.
      }
    }
  })

  it('model.json that is a directory is ERR_INVALID_ARG, not EISDIR', async () => {
    const dir = join(root, `m${folder++}`)
    await mkdir(join(dir, 'model.json'), { recursive: true })
    await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /model\.json is not a regular file \(a directory\)/)
  })

  it('a folder path too long for the file system is ERR_INVALID_ARG, not ENAMETOOLONG', async () => {
    await expectThinnetRejection(tn.loadModel(join(root, 'x'.repeat(5000))), 'ERR_INVALID_ARG', /model\.json/)
  })

  it('a folder path with a NUL byte is ERR_INVALID_ARG, not a raw ERR_INVALID_ARG_VALUE TypeError', async () => {
    await expectThinnetRejection(tn.loadModel(join(root, 'a\0b')), 'ERR_INVALID_ARG', /NUL/)
  })

  it('the saved folder itself still loads (model.json and weights.bin read as files)', async () => {
    const dir = join(root, `m${folder++}`)
    await model.save(dir)
    expect((JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJSON).version).toBe(2)
    ;(await tn.loadModel(dir)).dispose()
  })
})

describe('format version 2: a checksum of the optimizer state', () => {
  /** A model's artifacts saved with an Adam optimizer that has trained one step. */
  async function withOptimizer(): Promise<ModelArtifacts> {
    const m = tn.sequential(MLP, { inputs: 4, seed: 9n })
    try {
      const optimizer = optimizers.adam({ lr: 0.01 })
      await m.fit({ x: new Float32Array(8).fill(0.5), y: new Uint8Array([0, 2]), epochs: 1, batchSize: 2, optimizer })
      return m.toArtifacts({ optimizer })
    } finally {
      m.dispose()
    }
  }

  it('a flipped bit in optimizer.bin is ERR_INVALID_ARG naming the file, saved and loaded from a folder', async () => {
    const a = await withOptimizer()
    const section = a.json.optimizer
    expect(section?.state.crc32).toBe(
      crc32(a.optimizerState ?? new Uint8Array())
        .toString(16)
        .padStart(8, '0'),
    )
    const state = (a.optimizerState ?? new Uint8Array()).slice()
    state[6] ^= 1
    expectThinnetError(
      () => tn.modelFromArtifacts({ ...a, optimizerState: state }),
      'ERR_INVALID_ARG',
      /optimizer\.bin does not match its checksum/,
    )
    const dir = await saveFolder(a.json, a.weights)
    await writeFile(join(dir, 'optimizer.bin'), state)
    await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /optimizer\.bin does not match its checksum/)
  })

  it('is required in a version 2 model.json, not in version 1', async () => {
    const a = await withOptimizer()
    const section = a.json.optimizer
    if (section === undefined) throw new Error('no optimizer section')
    const state = { ...section.state }
    delete state.crc32
    const json = { ...a.json, optimizer: { ...section, state } }
    expectThinnetError(() => tn.modelFromArtifacts({ ...a, json }), 'ERR_INVALID_ARG', /json\.optimizer\.state\.crc32 is missing/)
    const v1 = tn.modelFromArtifacts({ ...a, json: { ...json, version: 1, weights: withoutChecksum(json) } })
    expect(v1.restoredOptimizer).toBeDefined()
    v1.dispose()
  })
})

describe('file:// and other schemes in Node (as TensorFlow.js users write them)', () => {
  it('saves to and loads from file:// URLs, relative and absolute, bit for bit', async () => {
    const relative = join(root, `m${folder++}`)
    const cwd = process.cwd()
    process.chdir(root)
    try {
      const name = relative.slice(root.length + 1)
      const saved = await model.save(`file://${name}`)
      expect(saved.json).toBe(join(name, 'model.json'))
      const again = await tn.loadModel(`file://./${name}`)
      try {
        expectSameBits(again.fused[0].parameters().w, model.fused[0].parameters().w, 'w, relative')
      } finally {
        again.dispose()
      }
    } finally {
      process.chdir(cwd)
    }
    // Absolute, with a space percent-escaped as a file URL has it.
    const absolute = join(root, `m ${folder++}`)
    await model.save(`file://${absolute.replaceAll(' ', '%20')}`)
    expect((await readFile(join(absolute, 'model.json'), 'utf8')).length).toBeGreaterThan(0)
    const back = await tn.loadModel(`file://${absolute.replaceAll(' ', '%20')}`)
    try {
      expectSameBits(back.fused[1].parameters().b, model.fused[1].parameters().b, 'b, absolute')
    } finally {
      back.dispose()
    }
  })

  it("refuses the browser's schemes by name, creating no folder", async () => {
    const cwd = process.cwd()
    process.chdir(root)
    try {
      for (const where of ['indexeddb://m', 'downloads://m', 'https://example.com/m', 'file://']) {
        await expectThinnetRejection(
          model.save(where),
          'ERR_INVALID_ARG',
          where === 'file://' ? /names no directory/ : /is not a location in Node/,
        )
        await expectThinnetRejection(
          tn.loadModel(where),
          'ERR_INVALID_ARG',
          where === 'file://' ? /names no directory/ : /is not a location in Node/,
        )
      }
      for (const folderName of ['indexeddb:', 'downloads:', 'https:', 'file:']) {
        await expect(readFile(join(root, folderName))).rejects.toMatchObject({ code: 'ENOENT' })
      }
    } finally {
      process.chdir(cwd)
    }
  })
})
