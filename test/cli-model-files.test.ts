/**
 * `thinnet eval` on damaged model folders (issue 11, item 7, "Model files"): the built CLI
 * (dist/cli/main.js, from `npm run build:ts`) in a child process exits 1 with the coded error on
 * one line, never "unexpected failure (a bug)", never exit 0 with a garbage accuracy, never a
 * hang. The model fails to load before any data is read, so no dataset is needed.
 */

import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { layers, load, type ModelJSON } from '../ts/index.js'
import { crc32Hex } from '../ts/model/crc32.js'

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

function thinnet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 20_000, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

let root: string
let json: ModelJSON
let weights: Uint8Array

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the CLI first with npm run build:ts`)
  root = await mkdtemp(join(tmpdir(), 'thinnet-cli-model-files-'))
  const tn = await load()
  // Fashion-MNIST's shape, so that only the damage can make eval fail.
  const model = tn.sequential([layers.dense({ units: 10 })], { inputs: 784, seed: 3n, loss: 'crossEntropy' })
  ;({ json, weights } = model.toArtifacts())
  model.dispose()
})

afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

async function folder(name: string, modelJson: unknown, bytes?: Uint8Array): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir)
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson))
  if (bytes !== undefined) await writeFile(join(dir, 'weights.bin'), bytes)
  return dir
}

function expectCodedFailure(r: Run, pattern: RegExp): void {
  expect(r.stderr).not.toContain('unexpected failure')
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(r.stdout).toBe('')
  expect(r.code).toBe(1)
}

describe('thinnet eval on a damaged model folder', () => {
  it('NaN weights (checksum updated to match): exit 1, ERR_INVALID_ARG naming the tensor', async () => {
    const bytes = weights.slice()
    new DataView(bytes.buffer).setFloat32(json.weights.tensors[0].byteOffset + 40, NaN, true)
    const dir = await folder('nan', { ...json, weights: { ...json.weights, crc32: crc32Hex(bytes) } }, bytes)
    expectCodedFailure(
      await thinnet('eval', '--model', dir),
      /^thinnet eval: ERR_INVALID_ARG: json\.weights\.tensors\[0\] \(w of layer 0\) holds NaN at index 10/,
    )
  })

  it('a flipped bit: exit 1, ERR_INVALID_ARG naming the checksum', async () => {
    const bytes = weights.slice()
    bytes[100] ^= 4
    expectCodedFailure(
      await thinnet('eval', '--model', await folder('flip', json, bytes)),
      /^thinnet eval: ERR_INVALID_ARG: .*weights\.bin.*checksum/,
    )
  })

  it('weights.file a directory: exit 1, ERR_INVALID_ARG, not EISDIR', async () => {
    const dir = await folder('dir', { ...json, weights: { ...json.weights, file: 'sub' } })
    await mkdir(join(dir, 'sub'))
    expectCodedFailure(await thinnet('eval', '--model', dir), /^thinnet eval: ERR_INVALID_ARG: .*sub is not a regular file \(a directory\)/)
  })

  it('weights.file a FIFO: exit 1 at once, no hang', async () => {
    const dir = await folder('fifo', { ...json, weights: { ...json.weights, file: 'fifo' } })
    execFileSync('mkfifo', [join(dir, 'fifo')])
    expectCodedFailure(await thinnet('eval', '--model', dir), /^thinnet eval: ERR_INVALID_ARG: .*fifo is not a regular file \(a FIFO\)/)
  })

  it('a misaligned tensor offset: exit 1, ERR_SHAPE_MISMATCH', async () => {
    const tensors = json.weights.tensors.map((t, i) => (i === 1 ? { ...t, byteOffset: t.byteOffset - 2 } : t))
    const dir = await folder('misaligned', { ...json, weights: { ...json.weights, tensors } }, weights)
    expectCodedFailure(await thinnet('eval', '--model', dir), /^thinnet eval: ERR_SHAPE_MISMATCH: json\.weights\.tensors\[1\]/)
  })

  it('model.json declaring 65536 x 65535 beside a small file: exit 1, ERR_INVALID_ARG', async () => {
    const dir = await folder('huge', { ...json, inputs: 65536, layers: [{ ...json.layers[0], units: 65535 }], outputs: 65535 }, weights)
    expectCodedFailure(await thinnet('eval', '--model', dir), /^thinnet eval: ERR_INVALID_ARG: json\.layers declare 65536 x 65535/)
  })
})
