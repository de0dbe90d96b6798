/**
 * Stratified draws of the demo's 3,000 / 5,000 subset from the full Fashion-MNIST, so that a claim
 * can be measured on data that took no part in choosing its settings (issue 15).
 *
 * A draw is made exactly as scripts/make-fashion-subset.mjs makes the shipped subset: one
 * SplitMix64 generator (Steele, Lea and Flood 2014; Vigna's constants; exact 64-bit arithmetic)
 * serves the training split, then the test split, and within each the classes 0..9 in order; the
 * indices of a class (in file order, minus any excluded) are Fisher-Yates shuffled and the first
 * 300 (training) or 500 (test) kept; the kept indices are sorted, so a draw keeps the files' order.
 *
 * Draw i uses the seed DRAW_SEED + i. Draw 0 is therefore the shipped subset itself (a test checks
 * it bit for bit): the selection draw, on whose training examples `thinnet sweep` chooses the
 * demo's dropout rates. Draws 1, 2, ... (`thinnet demo --draws K` reports draws 1..K) take their
 * training examples from the 60,000 minus draw 0's 3,000, so no reported run trains on an example
 * the selection saw; their test examples come from all 10,000 test examples, which the selection
 * never read (5,000 of 10,000 per draw: two draws share about half their test examples, and no
 * draw's test set can avoid draw 0's, which also holds half the test pool).
 */

import type { FashionMnist, FashionMnistSplit } from '../data/fashion-mnist.js'
import { invalidArg } from '../errors.js'

/** The shipped subset's seed: the ASCII bytes of "thinnet" read as a big-endian integer. */
export const DRAW_SEED = 0x7468696e6e6574n

/** Examples per class of a draw, as the shipped subset. */
export const DRAW_PER_CLASS = Object.freeze({ train: 300, test: 500 })

const MASK64 = (1n << 64n) - 1n

/** A SplitMix64 generator: each call returns the next 64-bit output. */
export function splitmix64(seed: bigint): () => bigint {
  let state = seed & MASK64
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64
    let z = state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64
    return z ^ (z >> 31n)
  }
}

/**
 * `perClass` indices of each class of `labels`, skipping the indices flagged in `exclude`,
 * chosen with `next` (see the file comment), sorted ascending.
 */
export function chooseStratified(
  labels: ArrayLike<number>,
  perClass: number,
  classes: number,
  next: () => bigint,
  exclude?: Uint8Array,
): Uint32Array {
  const picked: number[] = []
  for (let c = 0; c < classes; c++) {
    const pool: number[] = []
    for (let i = 0; i < labels.length; i++) if (labels[i] === c && exclude?.[i] !== 1) pool.push(i)
    if (pool.length < perClass)
      throw invalidArg(`a draw needs ${perClass} examples of class ${c}, the data has ${pool.length} to draw from`)
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Number((next() * BigInt(i + 1)) >> 64n)
      const t = pool[i]
      pool[i] = pool[j]
      pool[j] = t
    }
    picked.push(...pool.slice(0, perClass))
  }
  return Uint32Array.from(picked.sort((a, b) => a - b))
}

function pick(split: FashionMnistSplit, rows: Uint32Array): FashionMnistSplit {
  const pixels = split.rows * split.cols
  const images = new Float32Array(rows.length * pixels)
  const labels = new Uint8Array(rows.length)
  rows.forEach((r, k) => {
    images.set(split.images.subarray(r * pixels, (r + 1) * pixels), k * pixels)
    labels[k] = split.labels[r]
  })
  return { images, labels, count: rows.length, rows: split.rows, cols: split.cols }
}

/** A draw: its data, and which examples of the full set it holds (indices into its files). */
export interface Draw {
  index: number
  data: FashionMnist
  trainRows: Uint32Array
  testRows: Uint32Array
}

/**
 * Draw `index` (an integer >= 0) of the subset from the full set `full` (see the file comment).
 *
 * @example
 * ```ts
 * const full = await loadFashionMnist({ set: 'full' })
 * const draw0 = drawSubset(full, 0) // the shipped subset, example for example
 * const draw1 = drawSubset(full, 1) // trains on none of draw 0's training examples
 * ```
 */
export function drawSubset(full: FashionMnist, index: number): Draw {
  if (!(Number.isSafeInteger(index) && index >= 0)) throw invalidArg(`the draw must be an integer >= 0, received ${index}`)
  const classes = full.classes.length
  let exclude: Uint8Array | undefined
  if (index > 0) {
    exclude = new Uint8Array(full.train.count)
    for (const r of drawSubset(full, 0).trainRows) exclude[r] = 1
  }
  const next = splitmix64(DRAW_SEED + BigInt(index))
  const trainRows = chooseStratified(full.train.labels, DRAW_PER_CLASS.train, classes, next, exclude)
  const testRows = chooseStratified(full.test.labels, DRAW_PER_CLASS.test, classes, next)
  return {
    index,
    data: {
      train: pick(full.train, trainRows),
      test: pick(full.test, testRows),
      classes: full.classes,
      source: { set: 'subset', dir: full.source.dir },
    },
    trainRows,
    testRows,
  }
}
