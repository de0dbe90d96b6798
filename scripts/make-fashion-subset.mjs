#!/usr/bin/env node
// Makes the Fashion-MNIST subset in packages/fashion-mnist-subset/ (the npm package
// thinnet-fashion-mnist-subset; its package.json is not generated) from Debian's
// dataset-fashion-mnist package, reproducibly: the same bytes on every machine and every run.
//
// The subset: 3,000 training examples (300 per class) and 5,000 test examples (500 per class),
// chosen by a seeded SplitMix64 shuffle and kept in their original relative order, written as
// gzipped IDX files with the four standard names, plus README.md (provenance, selection,
// SHA-256 values, the command to regenerate) and LICENSE (the dataset's MIT licence).
//
// Usage:
//   node scripts/make-fashion-subset.mjs            write packages/fashion-mnist-subset/
//   node scripts/make-fashion-subset.mjs --check    regenerate in memory and compare byte for byte
//                                                   with the committed files (exit 1 on a difference)
//   options: --source DIR (default /usr/share/datasets/fashion-mnist), --out DIR
//
// Needs the Debian package: as root, apt-get install dataset-fashion-mnist.

import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { constants, gunzipSync, gzipSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

const DEBIAN_PACKAGE = 'dataset-fashion-mnist'
const DEBIAN_VERSION = '0.0~git20200523.55506a9-1'
const UPSTREAM = 'https://github.com/zalandoresearch/fashion-mnist'
const UPSTREAM_COMMIT = '55506a9'

/** The subset: examples per class in each split. */
const PER_CLASS = { train: 300, test: 500 }
const CLASSES = 10

/** The PRNG seed: the ASCII bytes of "thinnet" read as a big-endian integer. */
const SEED = 0x7468696e6e6574n

/** Standard file names; `prefix` is the split's name in them. */
const SPLITS = [
  { key: 'train', prefix: 'train' },
  { key: 'test', prefix: 't10k' },
]
const imagesName = (prefix) => `${prefix}-images-idx3-ubyte`
const labelsName = (prefix) => `${prefix}-labels-idx1-ubyte`

/**
 * SHA-256 of the decompressed content of the Debian package's four files (version above). The
 * script refuses any other input, so the subset cannot silently come from different data.
 */
const SOURCE_SHA256 = {
  'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
}

// ---------------------------------------------------------------------------------------------
// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
// 2014; the constants of Vigna's reference splitmix64.c). All arithmetic is exact BigInt modulo
// 2^64, so every machine and engine produces the same sequence.

const MASK64 = (1n << 64n) - 1n

function splitmix64(seed) {
  let state = seed & MASK64
  return function next() {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64
    let z = state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64
    return z ^ (z >> 31n)
  }
}

/** An integer in [0, n): floor(x * n / 2^64) of the next 64-bit draw x (exact, in BigInt). */
function below(next, n) {
  return Number((next() * BigInt(n)) >> 64n)
}

/**
 * The selection. One generator, seeded with SEED, serves the splits in the order train, test
 * and within each the classes in order 0..9. For each (split, class): the example indices of
 * that class, in file order, are Fisher-Yates shuffled (for i from length - 1 down to 1: swap
 * element i with element below(i + 1)), and the first PER_CLASS are taken. The union over the
 * classes is sorted ascending, so the subset keeps the original relative order.
 */
function choose(labels, perClass, next) {
  const picked = []
  for (let c = 0; c < CLASSES; c++) {
    const pool = []
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) pool.push(i)
    if (pool.length < perClass) fail(`class ${c} has only ${pool.length} examples, ${perClass} needed`)
    for (let i = pool.length - 1; i > 0; i--) {
      const j = below(next, i + 1)
      const t = pool[i]
      pool[i] = pool[j]
      pool[j] = t
    }
    picked.push(...pool.slice(0, perClass))
  }
  return picked.sort((a, b) => a - b)
}

// ---------------------------------------------------------------------------------------------

function fail(message) {
  console.error(`make-fashion-subset: ${message}`)
  process.exit(1)
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex')
}

function parseArgs(argv) {
  const args = { check: false, source: '/usr/share/datasets/fashion-mnist', out: join(root, 'packages', 'fashion-mnist-subset') }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--check') args.check = true
    else if (arg === '--source' && i + 1 < argv.length) args.source = resolve(argv[++i])
    else if (arg === '--out' && i + 1 < argv.length) args.out = resolve(argv[++i])
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: node scripts/make-fashion-subset.mjs [--check] [--source DIR] [--out DIR]')
      process.exit(0)
    } else fail(`unknown argument ${arg} (try --help)`)
  }
  return args
}

/** Reads a Debian file (gzipped or plain), checks its content hash, returns the IDX bytes. */
function readSource(dir, name) {
  const candidates = [join(dir, name + '.gz'), join(dir, name)]
  const path = candidates.find((p) => existsSync(p))
  if (path === undefined) {
    fail(`${dir} has neither ${name}.gz nor ${name}. As root: apt-get install ${DEBIAN_PACKAGE}`)
  }
  let bytes = readFileSync(path)
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes)
  const hash = sha256(bytes)
  if (hash !== SOURCE_SHA256[name]) {
    fail(
      `${path}: content SHA-256 ${hash} is not the expected ${SOURCE_SHA256[name]} ` +
        `(${DEBIAN_PACKAGE} ${DEBIAN_VERSION}); refusing to build the subset from other data`,
    )
  }
  return bytes
}

/** The uint8 payload of an IDX file with the expected dims (the input is hash-checked already). */
function idxPayload(bytes, ndims) {
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] !== ndims) fail('unexpected IDX header')
  const dims = []
  for (let d = 0; d < ndims; d++) dims.push(bytes.readUInt32BE(4 + 4 * d))
  return { dims, data: bytes.subarray(4 + 4 * ndims) }
}

function idxBytes(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length)
  header[2] = 0x08 // uint8
  header[3] = dims.length
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i))
  return Buffer.concat([header, data])
}

/**
 * gzip with fixed parameters (level 9, 32 KiB window, memLevel 8, default strategy) and a fixed
 * header: no file name, mtime 0, XFL 2 (maximum compression), OS 3 (Unix), whatever the platform
 * (zlib writes its own OS code; the header is not covered by any checksum). The deflate stream
 * itself is zlib's: a zlib build with a different match finder could compress differently, which
 * --check reports apart from a change of content.
 */
function gzip(bytes) {
  const out = gzipSync(bytes, {
    level: 9,
    windowBits: 15,
    memLevel: 8,
    strategy: constants.Z_DEFAULT_STRATEGY,
  })
  if (out[0] !== 0x1f || out[1] !== 0x8b || out[2] !== 8 || out[3] !== 0) fail('zlib wrote an unexpected gzip header')
  out.fill(0, 4, 8) // mtime 0
  out[8] = 2 // XFL: maximum compression
  out[9] = 3 // OS: Unix
  return out
}

const LICENSE = `Fashion-MNIST
https://github.com/zalandoresearch/fashion-mnist

The MIT License (MIT) Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included
in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`

/** 12345 -> "12,345" (no locale data involved, so the README is the same everywhere). */
function thousands(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

function readme({ files, indexHashes, counts }) {
  const row = (f) => `| \`${f.name}.gz\` | ${f.what} | ${thousands(f.gzBytes)} | \`${f.gzSha}\` | \`${f.idxSha}\` |`
  return `# thinnet-fashion-mnist-subset

A stratified subset of [Fashion-MNIST](${UPSTREAM}), so that thinnet's demo and tests run
with no download: the data of \`thinnet demo\`, published as its own npm package so that a
server installing thinnet does not carry it (\`npx -p thinnet -p thinnet-fashion-mnist-subset
thinnet demo\`). It holds **${thousands(counts.train)} training examples** (${thousands(PER_CLASS.train)} per class) and
**${thousands(counts.test)} test examples** (${PER_CLASS.test} per class), 28x28 grayscale, labels 0..9, in the
standard IDX format (gzipped) under the standard file names. \`loadFashionMnist()\` reads it by
default; \`loadFashionMnist({ set: 'full' })\` reads the full 60,000 / 10,000 set from the Debian
package.

This folder is generated: do not edit it by hand. Regenerate it with the command below.

## Provenance

- Upstream: Zalando Research, Fashion-MNIST, ${UPSTREAM}, commit ${UPSTREAM_COMMIT}
  (snapshot of 2020-05-23), the four files of \`data/fashion\`.
- Taken from the Debian package \`${DEBIAN_PACKAGE}\` version \`${DEBIAN_VERSION}\`
  (\`apt-get install ${DEBIAN_PACKAGE}\`), which installs them in /usr/share/datasets/fashion-mnist.
  The script checks the decompressed content of those four files against these SHA-256 values and
  refuses any other input:
${Object.entries(SOURCE_SHA256)
  .map(([name, hash]) => `  - \`${name}\`: \`${hash}\``)
  .join('\n')}
- Debian's .gz files are not byte-identical to upstream's downloads (their MD5s differ from the
  ones upstream publishes): each is smaller than upstream's (26,421,880, 29,515, 4,422,102 and
  5,148 bytes) by exactly its file name plus a NUL, and its gzip header carries a 2020-06-05
  mtime, as from a gzip header rewritten without the name. The decompressed content was not
  compared with upstream's when this was written (no network); the hashes above pin what was used.

## Licence

The MIT License, Copyright (c) 2017 Zalando SE (upstream's licence; Debian's copyright file
records it as Expat). The full text is in [LICENSE](LICENSE).

## How the examples were chosen

1. A SplitMix64 generator (Steele, Lea and Flood 2014; Vigna's constants), seeded with
   \`0x${SEED.toString(16)}\` (the ASCII bytes of "thinnet"), computed in exact 64-bit integer
   arithmetic, so the choice is the same on every machine.
2. One generator serves the training split first, then the test split; within a split, the
   classes 0 to 9 in order. For each class, the indices of its examples (in file order) are
   Fisher-Yates shuffled (for i from n - 1 down to 1, swap element i with element
   floor(x * (i + 1) / 2^64) for the next 64-bit draw x), and the first ${PER_CLASS.train} (training) or
   ${PER_CLASS.test} (test) are kept.
3. The kept indices are sorted ascending: the subset keeps the original relative order.

SHA-256 of the chosen indices (0-based indices into the original files, decimal, one per line,
each line ending in a newline):

- training: \`${indexHashes.train}\`
- test: \`${indexHashes.test}\`

## Files

| File | Content | Bytes | SHA-256 of the .gz file | SHA-256 of the IDX content (gunzipped) |
| --- | --- | ---: | --- | --- |
${files.map(row).join('\n')}

The IDX content is the identity of the data. The .gz files are written with zlib level 9, no file
name, mtime 0 and OS byte 3 (Unix), so they are byte for byte reproducible with the same zlib; a
zlib build with a different match finder may compress the same content to different bytes.

## Regenerate or verify

\`\`\`sh
apt-get install ${DEBIAN_PACKAGE}             # as root, once
node scripts/make-fashion-subset.mjs         # rewrites packages/fashion-mnist-subset/
node scripts/make-fashion-subset.mjs --check # regenerates in memory, compares byte for byte
\`\`\`
`
}

function build(sourceDir) {
  const next = splitmix64(SEED)
  const files = []
  const indexHashes = {}
  const counts = {}
  const outputs = new Map()
  for (const { key, prefix } of SPLITS) {
    const images = idxPayload(readSource(sourceDir, imagesName(prefix)), 3)
    const labels = idxPayload(readSource(sourceDir, labelsName(prefix)), 1)
    const [n, rows, cols] = images.dims
    if (rows !== 28 || cols !== 28 || labels.dims[0] !== n) fail(`unexpected ${prefix} dims`)
    const chosen = choose(labels.data, PER_CLASS[key], next)
    indexHashes[key] = sha256(chosen.map((i) => `${i}\n`).join(''))
    counts[key] = chosen.length
    const pixels = rows * cols
    const imageData = Buffer.alloc(chosen.length * pixels)
    const labelData = Buffer.alloc(chosen.length)
    chosen.forEach((src, dst) => {
      imageData.set(images.data.subarray(src * pixels, (src + 1) * pixels), dst * pixels)
      labelData[dst] = labels.data[src]
    })
    for (const [name, what, idx] of [
      [imagesName(prefix), `${key === 'train' ? 'training' : 'test'} images, ${chosen.length}x28x28 uint8`, idxBytes([chosen.length, rows, cols], imageData)],
      [labelsName(prefix), `${key === 'train' ? 'training' : 'test'} labels, ${chosen.length} uint8`, idxBytes([chosen.length], labelData)],
    ]) {
      const gz = gzip(idx)
      outputs.set(name + '.gz', gz)
      files.push({ name, what, gzBytes: gz.length, gzSha: sha256(gz), idxSha: sha256(idx) })
    }
  }
  outputs.set('README.md', Buffer.from(readme({ files, indexHashes, counts })))
  outputs.set('LICENSE', Buffer.from(LICENSE))
  return outputs
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  if (!existsSync(args.source)) {
    fail(`${args.source} does not exist: the subset is made from Debian's ${DEBIAN_PACKAGE}. As root: apt-get install ${DEBIAN_PACKAGE}`)
  }
  const outputs = build(args.source)
  const shown = relative(process.cwd(), args.out) || '.'
  if (args.check) {
    let bad = 0
    for (const [name, bytes] of outputs) {
      const path = join(args.out, name)
      if (!existsSync(path)) {
        console.error(`MISSING  ${join(shown, name)}`)
        bad++
        continue
      }
      const committed = readFileSync(path)
      if (committed.equals(bytes)) {
        console.log(`ok       ${join(shown, name)} (${bytes.length} bytes)`)
        continue
      }
      bad++
      if (name.endsWith('.gz')) {
        let same = false
        try {
          same = gunzipSync(committed).equals(gunzipSync(bytes))
        } catch {}
        console.error(
          same
            ? `DIFFERS  ${join(shown, name)}: same IDX content, different gzip bytes (this zlib, ${process.versions.zlib}, compresses differently)`
            : `DIFFERS  ${join(shown, name)}: the IDX content differs`,
        )
      } else {
        console.error(`DIFFERS  ${join(shown, name)}`)
      }
    }
    if (bad > 0) fail(`${bad} of ${outputs.size} files differ from a fresh build`)
    console.log(`all ${outputs.size} files match a fresh build byte for byte`)
    return
  }
  mkdirSync(args.out, { recursive: true })
  let total = 0
  for (const [name, bytes] of outputs) {
    writeFileSync(join(args.out, name), bytes)
    total += bytes.length
    console.log(`wrote ${join(shown, name)} (${bytes.length} bytes)`)
  }
  console.log(`${outputs.size} files, ${total} bytes`)
}

main()
