/**
 * The Fashion-MNIST subset of the package thinnet-fashion-mnist-subset (packages/ in the
 * repository: 3,000 training and 5,000 test images),
 * fetched by the page. The files are located with `new URL(..., import.meta.url)`, so Vite copies
 * them into the build as they are (gzipped) and fetchIdx gunzips them in the browser.
 */

import { fetchIdx } from '../ts/web.js'
import type { IdxArray } from '../ts/data/idx.js'
import { PIXELS, SIDE } from './pixels.js'
import type { Split } from './protocol.js'

const FILES = {
  trainImages: new URL('../packages/fashion-mnist-subset/train-images-idx3-ubyte.gz', import.meta.url),
  trainLabels: new URL('../packages/fashion-mnist-subset/train-labels-idx1-ubyte.gz', import.meta.url),
  testImages: new URL('../packages/fashion-mnist-subset/t10k-images-idx3-ubyte.gz', import.meta.url),
  testLabels: new URL('../packages/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz', import.meta.url),
}

function toSplit(what: string, images: IdxArray, labels: IdxArray): Split {
  const [count, rows, cols] = images.dims
  if (images.dtype !== 'uint8' || rows !== SIDE || cols !== SIDE || labels.dtype !== 'uint8' || labels.dims[0] !== count) {
    throw new Error(
      `Fashion-MNIST ${what}: expected uint8 images [n, 28, 28] and n uint8 labels, ` +
        `got ${images.dtype} [${images.dims.join(', ')}] and ${labels.dtype} [${labels.dims.join(', ')}]`,
    )
  }
  return { pixels: images.data, labels: labels.data }
}

export interface Subset {
  train: Split
  test: Split
}

/** Fetches and decodes the four files. */
export async function fetchSubset(): Promise<Subset> {
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    fetchIdx(FILES.trainImages),
    fetchIdx(FILES.trainLabels),
    fetchIdx(FILES.testImages),
    fetchIdx(FILES.testLabels),
  ])
  return { train: toSplit('training', trainImages, trainLabels), test: toSplit('test', testImages, testLabels) }
}

/**
 * The first `count` examples of a split, as copies: a posted view would carry its whole buffer
 * along (structured clone copies the buffer, not the view).
 */
export function firstExamples(split: Split, count: number): Split {
  const n = Math.min(count, split.labels.length)
  return { pixels: split.pixels.slice(0, n * PIXELS), labels: split.labels.slice(0, n) }
}
