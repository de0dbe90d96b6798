/**
 * Draws of the demo's subset from the full Fashion-MNIST (ts/cli/draws.ts, issue 15): the
 * generator is SplitMix64 as published, the stratified choice is the subset script's, draw 0 is
 * the shipped subset example for example, and draws 1.. train on none of draw 0's examples.
 */

import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR, loadFashionMnist, type FashionMnist } from '../ts/data/fashion-mnist.js'
import { chooseStratified, DRAW_SEED, drawSubset, splitmix64 } from '../ts/cli/draws.js'

describe('splitmix64', () => {
  it("gives the reference outputs (Vigna's splitmix64.c, seed 0)", () => {
    const next = splitmix64(0n)
    expect(next()).toBe(0xe220a8397b1dcdafn)
    expect(next()).toBe(0x6e789e6aa1b965f4n)
  })
})

describe('chooseStratified', () => {
  it('shuffles each class with floor(x (i + 1) / 2^64) and keeps the first perClass, sorted', () => {
    // Draws x = 0 always pick j = 0: a pool [a, b, c] becomes [c, b, a] (swap 2, 0), then [b, c, a] (swap 1, 0): b is kept.
    const zero = (): bigint => 0n
    const labels = [0, 1, 0, 1, 0, 1]
    expect(Array.from(chooseStratified(labels, 1, 2, zero))).toEqual([2, 3])
    // Draws just below 2^64 pick j = i: no swap, the first in file order.
    const top = (): bigint => (1n << 64n) - 1n
    expect(Array.from(chooseStratified(labels, 2, 2, top))).toEqual([0, 1, 2, 3])
    // Excluded rows are not in the pool: class 0 keeps 2 and 4, class 1 keeps 3 and 5.
    expect(Array.from(chooseStratified(labels, 2, 2, top, Uint8Array.from([1, 1, 0, 0, 0, 0])))).toEqual([2, 3, 4, 5])
    expect(() => chooseStratified(labels, 4, 2, top)).toThrow(/^a draw needs 4 examples of class 0, the data has 3 to draw from$/)
  })
})

/** A fake full set: 700 training and 600 test examples per class, each image tagged with its index. */
function fakeFull(): FashionMnist {
  const split = (perClass: number) => {
    const count = perClass * 10
    const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7) % 10)
    const images = new Float32Array(count * 784)
    for (let i = 0; i < count; i++) images[i * 784] = i
    return { images, labels, count, rows: 28 as const, cols: 28 as const }
  }
  return { train: split(700), test: split(600), classes: FASHION_MNIST_CLASSES, source: { set: 'full', dir: '/fake' } }
}

describe('drawSubset', () => {
  const full = fakeFull()

  it('draws 300 / 500 per class, in file order, the same for the same index', () => {
    const d = drawSubset(full, 2)
    expect(d.data.train.count).toBe(3000)
    expect(d.data.test.count).toBe(5000)
    for (let c = 0; c < 10; c++) {
      expect(d.data.train.labels.filter((l) => l === c).length).toBe(300)
      expect(d.data.test.labels.filter((l) => l === c).length).toBe(500)
    }
    expect(Array.from(d.trainRows)).toEqual([...d.trainRows].sort((a, b) => a - b))
    // The images and labels are those of the rows named.
    d.trainRows.forEach((r, k) => {
      expect(d.data.train.images[k * 784]).toBe(r)
      expect(d.data.train.labels[k]).toBe(full.train.labels[r])
    })
    expect(Array.from(drawSubset(full, 2).trainRows)).toEqual(Array.from(d.trainRows))
    expect(Array.from(drawSubset(full, 3).trainRows)).not.toEqual(Array.from(d.trainRows))
  })

  it("draw 0 uses the seed alone; draws 1.. never train on draw 0's training examples", () => {
    const d0 = drawSubset(full, 0)
    const next = splitmix64(DRAW_SEED)
    expect(Array.from(d0.trainRows)).toEqual(Array.from(chooseStratified(full.train.labels, 300, 10, next)))
    expect(Array.from(d0.testRows)).toEqual(Array.from(chooseStratified(full.test.labels, 500, 10, next)))
    const selection = new Set(d0.trainRows)
    for (const i of [1, 2, 3]) {
      const d = drawSubset(full, i)
      expect(d.trainRows.filter((r) => selection.has(r)).length, `draw ${i}`).toBe(0)
    }
  })

  it('refuses an index that is not an integer >= 0', () => {
    expect(() => drawSubset(full, -1)).toThrow(/^the draw must be an integer >= 0, received -1$/)
    expect(() => drawSubset(full, 1.5)).toThrow(/^the draw must be an integer >= 0, received 1.5$/)
  })

  const hasFullSet = existsSync(FASHION_MNIST_DEBIAN_DIR)
  const skip = hasFullSet ? '' : ` [SKIPPED: ${FASHION_MNIST_DEBIAN_DIR} is missing; as root: apt-get install dataset-fashion-mnist]`
  it.skipIf(!hasFullSet)(`draw 0 of the real full set is the shipped subset, image for image${skip}`, async () => {
    const [real, shipped] = await Promise.all([loadFashionMnist({ set: 'full' }), loadFashionMnist()])
    const d0 = drawSubset(real, 0).data
    for (const split of ['train', 'test'] as const) {
      expect(d0[split].count).toBe(shipped[split].count)
      expect(Buffer.from(d0[split].labels).equals(Buffer.from(shipped[split].labels)), `${split} labels`).toBe(true)
      expect(Buffer.from(d0[split].images.buffer).equals(Buffer.from(shipped[split].images.buffer)), `${split} images`).toBe(true)
    }
  })
})
