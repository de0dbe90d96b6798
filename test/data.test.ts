/**
 * Data: the IDX reader on hand-made buffers of every type and on every malformed shape of input
 * (each a typed ThinnetError, never a crash), plain and gzipped files, and the Fashion-MNIST loader
 * on the shipped subset (counts, class balance, pixel range, the SHA-256 values its README
 * records) and on the full Debian set when it is installed.
 */

import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync as gunzipBuffer, gzipSync as gzipBuffer } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ThinnetError, type ThinnetErrorCode } from '../ts/errors.js'
import { FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_FILES, fashionMnistSubsetDir, loadFashionMnist } from '../ts/data/fashion-mnist.js'
import { readIdxFile } from '../ts/data/idx-file.js'
import { IDX_MAX_ELEMENTS, parseIdx } from '../ts/data/idx.js'

function checkError(thrown: unknown, code: ThinnetErrorCode, message: RegExp): ThinnetError {
  expect(thrown).toBeInstanceOf(ThinnetError)
  const error = thrown as ThinnetError
  expect(error.code).toBe(code)
  expect(error.message).toMatch(message)
  return error
}

function expectIdxError(fn: () => unknown, message: RegExp): ThinnetError {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  return checkError(thrown, 'ERR_INVALID_ARG', message)
}

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<ThinnetError> {
  let thrown: unknown
  try {
    await promise
  } catch (error) {
    thrown = error
  }
  return checkError(thrown, 'ERR_INVALID_ARG', message)
}

/** IDX bytes written by hand: magic 0 0 type ndims, big-endian dims, then the payload as given. */
function idx(type: number, dims: number[], payload: number[] | Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + payload.length)
  out[2] = type
  out[3] = dims.length
  dims.forEach((d, i) => {
    out[4 + 4 * i] = (d >>> 24) & 0xff
    out[5 + 4 * i] = (d >>> 16) & 0xff
    out[6 + 4 * i] = (d >>> 8) & 0xff
    out[7 + 4 * i] = d & 0xff
  })
  out.set(payload, 4 + 4 * dims.length)
  return out
}

/**
 * A Buffer's bytes as a plain Uint8Array (no copy): this @types/node's Buffer does not type-check
 * as TypeScript 5.9's Uint8Array.
 */
function u8(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength)
}
const gzipSync = (bytes: Uint8Array): Uint8Array => u8(gzipBuffer(bytes))
const gunzipSync = (bytes: Uint8Array): Uint8Array => u8(gunzipBuffer(bytes))
const readBytes = async (path: string): Promise<Uint8Array> => u8(await readFile(path))

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  return Buffer.compare(x, y) === 0
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

describe('parseIdx decodes every IDX type big-endian', () => {
  it('uint8 (0x08), 2x3', () => {
    const r = parseIdx(idx(0x08, [2, 3], [0, 1, 2, 127, 128, 255]))
    expect(r.dtype).toBe('uint8')
    expect(r.dims).toEqual([2, 3])
    expect(r.data).toBeInstanceOf(Uint8Array)
    expect(Array.from(r.data)).toEqual([0, 1, 2, 127, 128, 255])
  })

  it('int8 (0x09), 4', () => {
    const r = parseIdx(idx(0x09, [4], [0x80, 0xff, 0x00, 0x7f]))
    expect(r.dtype).toBe('int8')
    expect(r.dims).toEqual([4])
    expect(r.data).toBeInstanceOf(Int8Array)
    expect(Array.from(r.data)).toEqual([-128, -1, 0, 127])
  })

  it('int16 (0x0b), 2x2', () => {
    const r = parseIdx(idx(0x0b, [2, 2], [0x80, 0x00, 0xff, 0xfe, 0x01, 0x02, 0x7f, 0xff]))
    expect(r.dtype).toBe('int16')
    expect(r.dims).toEqual([2, 2])
    expect(r.data).toBeInstanceOf(Int16Array)
    expect(Array.from(r.data)).toEqual([-32768, -2, 258, 32767])
  })

  it('int32 (0x0c), 3', () => {
    const r = parseIdx(idx(0x0c, [3], [0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfe, 0x80, 0, 0, 0]))
    expect(r.dtype).toBe('int32')
    expect(r.dims).toEqual([3])
    expect(r.data).toBeInstanceOf(Int32Array)
    expect(Array.from(r.data)).toEqual([0x01020304, -2, -(2 ** 31)])
  })

  it('float32 (0x0d), 1x1x3', () => {
    // 1.0 = 3f800000, -2.5 = c0200000, smallest subnormal = 00000001
    const r = parseIdx(idx(0x0d, [1, 1, 3], [0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0, 0, 0, 0, 1]))
    expect(r.dtype).toBe('float32')
    expect(r.dims).toEqual([1, 1, 3])
    expect(r.data).toBeInstanceOf(Float32Array)
    expect(Array.from(r.data)).toEqual([1, -2.5, 2 ** -149])
  })

  it('float64 (0x0e), 2', () => {
    // 1.0 = 3ff0000000000000, -0.1 = bfb999999999999a
    const r = parseIdx(idx(0x0e, [2], [0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xbf, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]))
    expect(r.dtype).toBe('float64')
    expect(r.dims).toEqual([2])
    expect(r.data).toBeInstanceOf(Float64Array)
    expect(Array.from(r.data)).toEqual([1, -0.1])
  })

  it('reads a view at an odd byte offset and returns a copy, not a view of the input', () => {
    const inner = idx(0x0b, [2], [0x01, 0x02, 0xff, 0xff])
    const outer = new Uint8Array(inner.length + 3)
    outer.set(inner, 1)
    const view = outer.subarray(1, 1 + inner.length)
    const r = parseIdx(view)
    expect(Array.from(r.data)).toEqual([258, -1])
    outer.fill(0)
    expect(Array.from(r.data)).toEqual([258, -1])

    const bytes = idx(0x08, [2], [5, 6])
    const u8 = parseIdx(bytes)
    bytes[8] = 99
    expect(Array.from(u8.data)).toEqual([5, 6])
  })

  it('accepts a Node Buffer', () => {
    const r = parseIdx(Buffer.from(idx(0x08, [1, 2], [9, 8])))
    expect(r.dims).toEqual([1, 2])
    expect(Array.from(r.data)).toEqual([9, 8])
  })
})

describe('parseIdx rejects malformed input with a typed error naming what is wrong', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'a plain array',
      () => parseIdx([0, 0, 8, 1, 0, 0, 0, 1, 7] as unknown as Uint8Array),
      /^IDX data: bytes must be a Uint8Array holding IDX data, received Array$/,
    ],
    ['an ArrayBuffer', () => parseIdx(new ArrayBuffer(9) as unknown as Uint8Array), /bytes must be a Uint8Array.*received ArrayBuffer/],
    ['an Int8Array', () => parseIdx(new Int8Array(9) as unknown as Uint8Array), /bytes must be a Uint8Array.*received Int8Array/],
    [
      'a DataView',
      () => parseIdx(new DataView(new ArrayBuffer(9)) as unknown as Uint8Array),
      /bytes must be a Uint8Array.*received DataView/,
    ],
    ['null', () => parseIdx(null as unknown as Uint8Array), /bytes must be a Uint8Array.*received null/],
    ['a string', () => parseIdx('IDX' as unknown as Uint8Array), /bytes must be a Uint8Array.*received the string "IDX"/],
    ['no bytes', () => parseIdx(new Uint8Array(0)), /file is truncated: an IDX header needs at least 4 bytes.*found 0/],
    ['3 bytes', () => parseIdx(new Uint8Array([0, 0, 8])), /needs at least 4 bytes .*found 3$/],
    [
      'a nonzero magic',
      () => parseIdx(new Uint8Array([0, 1, 8, 1, 0, 0, 0, 1, 7])),
      /not an IDX file: the magic must start with 0x00 0x00, found 0x00 0x01$/,
    ],
    [
      'gzip bytes',
      () => parseIdx(gzipSync(idx(8, [1], [1]))),
      /found 0x1f 0x8b \(this is gzip data: gunzip it first, or use readIdxFile\)/,
    ],
    ['an unknown type code', () => parseIdx(idx(0x0a, [1], [1])), /unknown IDX type code 0x0a in the magic: expected 0x08 \(uint8\)/],
    ['type code 0', () => parseIdx(idx(0x00, [1], [1])), /unknown IDX type code 0x00/],
    ['0 dimensions', () => parseIdx(new Uint8Array([0, 0, 8, 0, 1, 2])), /the header declares 0 dimensions: an IDX array needs at least 1/],
    [
      'a truncated dims list',
      () => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0])),
      /file is truncated: the header declares 3 dimensions, which need 16 header bytes, found 10/,
    ],
    [
      'a zero dimension',
      () => parseIdx(idx(0x08, [3, 0, 2], [])),
      /dimension 1 of 3x0x2 is 0: an IDX array must hold at least one element/,
    ],
    [
      'huge dimensions',
      () => parseIdx(idx(0x08, [0xffffffff, 0xffffffff], [1, 2, 3])),
      new RegExp(`4294967295x4294967295 = 18446744065119617025 elements, more than the ${IDX_MAX_ELEMENTS}`),
    ],
    ['one dimension past the limit', () => parseIdx(idx(0x0e, [2 ** 31], [])), /declares 2147483648 = 2147483648 elements, more than/],
    ['255 dimensions of 2^32 - 1', () => parseIdx(idx(0x08, new Array<number>(255).fill(0xffffffff), [])), /elements, more than the/],
    [
      'truncated data',
      () => parseIdx(idx(0x0c, [2, 3], new Array(23).fill(0))),
      /^IDX data: file is truncated: header says 2x3 int32 = 24 bytes of data, found 23$/,
    ],
    ['no data at all', () => parseIdx(idx(0x08, [5], [])), /file is truncated: header says 5 uint8 = 5 bytes of data, found 0/],
    [
      'trailing bytes',
      () => parseIdx(idx(0x0b, [2], [0, 1, 0, 2, 9])),
      /^IDX data: file has 1 trailing bytes: header says 2 int16 = 4 bytes of data, found 5$/,
    ],
  ]
  for (const [what, fn, message] of cases) {
    it(what, () => {
      expectIdxError(fn, message)
    })
  }

  it('names the input: the truncated training-images example', () => {
    const header = idx(0x08, [60000, 28, 28], new Uint8Array(1000))
    const error = expectIdxError(() => parseIdx(header, { name: 'train-images' }), /./)
    expect(error.message).toBe('train-images: file is truncated: header says 60000x28x28 uint8 = 47040000 bytes of data, found 1000')
  })

  it('a detached buffer', () => {
    const bytes = idx(0x08, [1], [1])
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
    expectIdxError(() => parseIdx(bytes), /buffer is detached/)
  })

  it('every prefix and many corruptions of a valid file either decode or throw ThinnetError', () => {
    const valid = idx(
      0x0c,
      [2, 3, 2],
      Array.from({ length: 48 }, (_, i) => (i * 37) & 0xff),
    )
    let decoded = 0
    let rejected = 0
    const attempt = (bytes: Uint8Array) => {
      try {
        const r = parseIdx(bytes)
        expect(r.data.length).toBe(r.dims.reduce((a, b) => a * b, 1))
        decoded++
      } catch (error) {
        expect(error).toBeInstanceOf(ThinnetError)
        rejected++
      }
    }
    for (let n = 0; n < valid.length; n++) attempt(valid.subarray(0, n))
    let s = 12345
    for (let k = 0; k < 2000; k++) {
      const bytes = valid.slice()
      s = (Math.imul(s, 1103515245) + 12345) >>> 0
      // one byte anywhere: a quarter of them hit the 16-byte header, where the structure is
      bytes[(s >>> 8) % bytes.length] = s >>> 24
      attempt(bytes)
    }
    expect(rejected).toBeGreaterThan(valid.length - 1) // every proper prefix is rejected
    expect(decoded).toBeGreaterThan(0) // some corruptions keep a consistent header
  })
})

describe('readIdxFile reads plain and gzipped files alike', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thinnet-data-test-'))
  })
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  const payload = idx(0x0d, [2, 2], [0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0, 0x7f, 0x80, 0, 0, 0, 0, 0, 0])

  it('plain, gzipped, and detected by content rather than name', async () => {
    await writeFile(join(dir, 'plain'), payload)
    await writeFile(join(dir, 'zipped.gz'), gzipSync(payload))
    await writeFile(join(dir, 'zipped-without-suffix'), gzipSync(payload))
    await writeFile(join(dir, 'plain-named.gz'), payload)
    const results = await Promise.all(
      ['plain', 'zipped.gz', 'zipped-without-suffix', 'plain-named.gz'].map((f) => readIdxFile(join(dir, f))),
    )
    for (const r of results) {
      expect(r.dtype).toBe('float32')
      expect(r.dims).toEqual([2, 2])
      expect(Array.from(r.data)).toEqual([1, -2.5, Infinity, 0])
    }
  })

  it('a missing file, a directory, a non-string path', async () => {
    const missing = join(dir, 'nope-idx1-ubyte.gz')
    await expectRejection(readIdxFile(missing), new RegExp(`^${missing}: cannot read the IDX file: no such file$`))
    await expectRejection(readIdxFile(dir), new RegExp(`^${dir}: cannot read the IDX file: it is a directory$`))
    await expectRejection(readIdxFile(42 as unknown as string), /path must be a non-empty string naming an IDX file, received 42/)
    await expectRejection(readIdxFile(''), /path must be a non-empty string/)
  })

  it('corrupt gzip and malformed IDX inside gzip name the path', async () => {
    const corrupt = join(dir, 'corrupt.gz')
    const zipped = gzipSync(payload)
    await writeFile(corrupt, zipped.subarray(0, zipped.length - 6))
    await expectRejection(readIdxFile(corrupt), new RegExp(`^${corrupt}: the file starts like gzip \\(1f 8b\\) but does not gunzip`))
    const garbage = join(dir, 'garbage.gz')
    await writeFile(garbage, new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5]))
    await expectRejection(readIdxFile(garbage), /does not gunzip/)
    const truncated = join(dir, 'truncated-images.gz')
    await writeFile(truncated, gzipSync(idx(0x08, [60000, 28, 28], new Uint8Array(1000))))
    const error = await expectRejection(readIdxFile(truncated), /./)
    expect(error.message).toBe(`${truncated}: file is truncated: header says 60000x28x28 uint8 = 47040000 bytes of data, found 1000`)
  })
})

/** Counts per label 0..9. */
function histogram(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0)
  for (const l of labels) counts[l]++
  return counts
}

describe('the shipped Fashion-MNIST subset', () => {
  it('loads by default with the documented counts, shapes, class balance and pixel range', async () => {
    const d = await loadFashionMnist()
    expect(d.source).toEqual({ set: 'subset', dir: fashionMnistSubsetDir() })
    expect(d.source.dir).toMatch(/packages\/fashion-mnist-subset$/)
    expect(d.classes).toHaveLength(10)
    expect(d.classes[0]).toBe('T-shirt/top')
    expect(d.classes[9]).toBe('Ankle boot')
    for (const [split, count, perClass] of [
      [d.train, 3000, 300],
      [d.test, 5000, 500],
    ] as const) {
      expect(split.count).toBe(count)
      expect(split.rows).toBe(28)
      expect(split.cols).toBe(28)
      expect(split.images).toBeInstanceOf(Float32Array)
      expect(split.images.length).toBe(count * 784)
      expect(split.labels).toBeInstanceOf(Uint8Array)
      expect(split.labels.length).toBe(count)
      expect(histogram(split.labels)).toEqual(new Array(10).fill(perClass))
      let min = Infinity
      let max = -Infinity
      let offGrid = 0
      for (const v of split.images) {
        if (v < min) min = v
        if (v > max) max = v
        if (Math.fround(Math.round(v * 255) / 255) !== v) offGrid++
      }
      expect(min).toBe(0)
      expect(max).toBe(1)
      expect(offGrid).toBe(0) // every value is some byte / 255
    }
  })

  it('its files match the SHA-256 values in its README, both the .gz bytes and the IDX content', async () => {
    const readme = await readFile(join(fashionMnistSubsetDir(), 'README.md'), 'utf8')
    const rows = [...readme.matchAll(/^\| `([a-z0-9-]+\.gz)` \|.*\| `([0-9a-f]{64})` \| `([0-9a-f]{64})` \|$/gm)]
    expect(rows.map((r) => r[1]).sort()).toEqual(
      Object.values(FASHION_MNIST_FILES)
        .map((f) => f + '.gz')
        .sort(),
    )
    for (const [, file, gzSha, idxSha] of rows) {
      const bytes = await readBytes(join(fashionMnistSubsetDir(), file))
      expect(sha256(bytes), file).toBe(gzSha)
      expect(sha256(gunzipSync(bytes)), file).toBe(idxSha)
      expect(Array.from(bytes.subarray(4, 8)), `${file} gzip mtime`).toEqual([0, 0, 0, 0])
    }
    expect(existsSync(join(fashionMnistSubsetDir(), 'LICENSE'))).toBe(true)
    expect(await readFile(join(fashionMnistSubsetDir(), 'LICENSE'), 'utf8')).toMatch(/Copyright \(c\) 2017 Zalando SE/)
  })
})

const hasFullSet = existsSync(FASHION_MNIST_DEBIAN_DIR)
const fullSetSkip = hasFullSet ? '' : ` [SKIPPED: ${FASHION_MNIST_DEBIAN_DIR} is missing; as root: apt-get install dataset-fashion-mnist]`

describe('the full Fashion-MNIST set (Debian dataset-fashion-mnist)', () => {
  it.skipIf(!hasFullSet)(`loads 60000 / 10000 examples, 6000 / 1000 per class${fullSetSkip}`, async () => {
    const d = await loadFashionMnist({ set: 'full' })
    expect(d.source).toEqual({ set: 'full', dir: FASHION_MNIST_DEBIAN_DIR })
    expect(d.train.count).toBe(60_000)
    expect(d.test.count).toBe(10_000)
    expect(d.train.images.length).toBe(60_000 * 784)
    expect(d.test.images.length).toBe(10_000 * 784)
    expect(histogram(d.train.labels)).toEqual(new Array(10).fill(6000))
    expect(histogram(d.test.labels)).toEqual(new Array(10).fill(1000))
  })

  it.skipIf(!hasFullSet)(`the subset is drawn from it in the original order${fullSetSkip}`, async () => {
    // A greedy scan: each subset example must equal a later full-set example with the same label.
    for (const prefix of ['train', 't10k']) {
      const images = `${prefix}-images-idx3-ubyte`
      const labels = `${prefix}-labels-idx1-ubyte`
      const [fullImages, fullLabels, subImages, subLabels] = await Promise.all([
        readIdxFile(join(FASHION_MNIST_DEBIAN_DIR, images + '.gz')),
        readIdxFile(join(FASHION_MNIST_DEBIAN_DIR, labels + '.gz')),
        readIdxFile(join(fashionMnistSubsetDir(), images + '.gz')),
        readIdxFile(join(fashionMnistSubsetDir(), labels + '.gz')),
      ])
      const n = fullLabels.dims[0]
      const m = subLabels.dims[0]
      const same = (i: number, j: number): boolean => {
        if (fullLabels.data[i] !== subLabels.data[j]) return false
        for (let k = 0; k < 784; k++) if (fullImages.data[i * 784 + k] !== subImages.data[j * 784 + k]) return false
        return true
      }
      let j = 0
      for (let i = 0; i < n && j < m; i++) if (same(i, j)) j++
      expect(j, `${prefix}: subset examples found in order in the full set`).toBe(m)
    }
  })
})

describe('scripts/make-fashion-subset.mjs', () => {
  it.skipIf(!hasFullSet)(`--check regenerates the shipped subset byte for byte${fullSetSkip}`, () => {
    const script = fileURLToPath(new URL('../scripts/make-fashion-subset.mjs', import.meta.url))
    const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/all 6 files match a fresh build byte for byte/)
  })

  it.skipIf(!hasFullSet)(`--check reports files that differ, telling content from compression${fullSetSkip}`, async () => {
    const out = await mkdtemp(join(tmpdir(), 'thinnet-subset-check-'))
    try {
      for (const f of ['README.md', 'LICENSE', ...Object.values(FASHION_MNIST_FILES).map((n) => n + '.gz')]) {
        await writeFile(join(out, f), await readBytes(join(fashionMnistSubsetDir(), f)))
      }
      // Same content, other compression level; another label; a missing licence.
      const images = join(out, 't10k-images-idx3-ubyte.gz')
      await writeFile(images, u8(gzipBuffer(gunzipSync(await readBytes(images)), { level: 1 })))
      const labelsPath = join(out, 'train-labels-idx1-ubyte.gz')
      const labels = gunzipSync(await readBytes(labelsPath))
      labels[8] = (labels[8] + 1) % 10
      await writeFile(labelsPath, gzipSync(labels))
      await rm(join(out, 'LICENSE'))
      const script = fileURLToPath(new URL('../scripts/make-fashion-subset.mjs', import.meta.url))
      const run = spawnSync(process.execPath, [script, '--check', '--out', out], { encoding: 'utf8' })
      expect(run.status).toBe(1)
      expect(run.stderr).toMatch(/DIFFERS .*t10k-images-idx3-ubyte\.gz: same IDX content, different gzip bytes/)
      expect(run.stderr).toMatch(/DIFFERS .*train-labels-idx1-ubyte\.gz: the IDX content differs/)
      expect(run.stderr).toMatch(/MISSING .*LICENSE/)
      expect(run.stderr).toMatch(/3 of 6 files differ from a fresh build/)
      expect(run.stdout).toMatch(/ok .*train-images-idx3-ubyte\.gz/)
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })
})

describe('loadFashionMnist options and errors', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thinnet-fashion-test-'))
  })
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  /** Writes a folder with the four files; `parts` overrides any of them (plain bytes). */
  async function folder(name: string, parts: Partial<Record<keyof typeof FASHION_MNIST_FILES, Uint8Array>>) {
    const path = join(dir, name)
    await mkdir(path)
    const tiny = {
      trainImages: idx(0x08, [2, 28, 28], new Uint8Array(2 * 784).fill(51)),
      trainLabels: idx(0x08, [2], [3, 9]),
      testImages: idx(0x08, [1, 28, 28], new Uint8Array(784).fill(255)),
      testLabels: idx(0x08, [1], [0]),
      ...parts,
    }
    for (const key of Object.keys(FASHION_MNIST_FILES) as (keyof typeof FASHION_MNIST_FILES)[]) {
      await writeFile(join(path, FASHION_MNIST_FILES[key]), tiny[key])
    }
    return path
  }

  it('dir alone reads any folder with the four files, plain or gzipped', async () => {
    const plain = join(dir, 'plain-subset')
    await mkdir(plain)
    for (const f of Object.values(FASHION_MNIST_FILES)) {
      await writeFile(join(plain, f), gunzipSync(await readBytes(join(fashionMnistSubsetDir(), f + '.gz'))))
    }
    const [fromPlain, shipped] = await Promise.all([loadFashionMnist({ dir: plain }), loadFashionMnist()])
    expect(fromPlain.source).toEqual({ set: 'full', dir: plain })
    expect(fromPlain.train.count).toBe(3000)
    // Byte comparisons: a deep toEqual over millions of floats takes minutes.
    expect(sameBytes(fromPlain.train.labels, shipped.train.labels)).toBe(true)
    expect(sameBytes(fromPlain.train.images, shipped.train.images)).toBe(true)
    expect(sameBytes(fromPlain.test.labels, shipped.test.labels)).toBe(true)
    expect(sameBytes(fromPlain.test.images, shipped.test.images)).toBe(true)

    const tiny = await loadFashionMnist({ dir: await folder('tiny', {}) })
    expect(tiny.train.count).toBe(2)
    expect(Array.from(tiny.train.labels)).toEqual([3, 9])
    expect(tiny.train.images[0]).toBe(Math.fround(51 / 255))
    expect(tiny.test.images[783]).toBe(1)
  })

  it('a missing folder names it and the Debian package', async () => {
    const missing = join(dir, 'no-such-folder')
    await expectRejection(
      loadFashionMnist({ set: 'full', dir: missing }),
      new RegExp(
        `^Fashion-MNIST: the folder ${missing} does not exist: install the full set with \`apt-get install dataset-fashion-mnist\``,
      ),
    )
    await expectRejection(loadFashionMnist({ dir: missing }), /does not exist: .*apt-get install dataset-fashion-mnist/)
  })

  it('a folder missing one file names the file', async () => {
    const path = await folder('partial', {})
    await rm(join(path, FASHION_MNIST_FILES.testLabels))
    await expectRejection(
      loadFashionMnist({ dir: path }),
      new RegExp(`${path} has neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte: .*apt-get install dataset-fashion-mnist`),
    )
  })

  it('wrong shapes, types, counts and labels are typed errors naming the file', async () => {
    const cases: [string, Partial<Record<keyof typeof FASHION_MNIST_FILES, Uint8Array>>, RegExp][] = [
      [
        'images-27',
        { trainImages: idx(0x08, [2, 27, 28], new Uint8Array(2 * 27 * 28)) },
        /train-images-idx3-ubyte: Fashion-MNIST training images must be uint8 of shape \[count, 28, 28\], found uint8 of shape \[2, 27, 28\]/,
      ],
      [
        'images-2d',
        { testImages: idx(0x08, [1, 784], new Uint8Array(784)) },
        /t10k-images-idx3-ubyte: Fashion-MNIST test images must be uint8 of shape \[count, 28, 28\], found uint8 of shape \[1, 784\]/,
      ],
      ['images-int8', { trainImages: idx(0x09, [2, 28, 28], new Uint8Array(2 * 784)) }, /found int8 of shape \[2, 28, 28\]/],
      [
        'labels-int32',
        { trainLabels: idx(0x0c, [2], new Uint8Array(8)) },
        /train-labels-idx1-ubyte: Fashion-MNIST training labels must be uint8 of shape \[count\], found int32 of shape \[2\]/,
      ],
      ['labels-2d', { testLabels: idx(0x08, [1, 1], [0]) }, /test labels must be uint8 of shape \[count\], found uint8 of shape \[1, 1\]/],
      [
        'count-mismatch',
        { trainLabels: idx(0x08, [3], [1, 2, 3]) },
        /Fashion-MNIST training: .*train-images-idx3-ubyte holds 2 images but .*train-labels-idx1-ubyte holds 3 labels/,
      ],
      ['label-10', { trainLabels: idx(0x08, [2], [4, 10]) }, /train-labels-idx1-ubyte: label 1 is 10, expected a class index in 0\.\.9/],
      [
        'truncated',
        { testImages: idx(0x08, [2, 28, 28], new Uint8Array(784)) },
        /t10k-images-idx3-ubyte: file is truncated: header says 2x28x28 uint8 = 1568 bytes of data, found 784/,
      ],
    ]
    for (const [name, parts, message] of cases) {
      await expectRejection(loadFashionMnist({ dir: await folder(name, parts) }), message)
    }
  })

  it('bad options', async () => {
    await expectRejection(loadFashionMnist({ set: 'fll' as 'full' }), /^options.set must be 'subset' or 'full', received the string "fll"$/)
    await expectRejection(loadFashionMnist({ dir: '' }), /^options.dir must be a non-empty string naming a folder, received the string ""$/)
    await expectRejection(
      loadFashionMnist({ dir: 7 as unknown as string }),
      /options.dir must be a non-empty string naming a folder, received 7/,
    )
    await expectRejection(loadFashionMnist({ sett: 'full' } as never), /options.sett is not an option: expected one of set, dir/)
    await expectRejection(
      loadFashionMnist('full' as never),
      /options must be an object such as \{ set: 'full' \}, received the string "full"/,
    )
  })
})
