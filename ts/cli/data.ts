/** The --data flag's value turned into a loaded Fashion-MNIST. */

import { loadFashionMnist, type FashionMnist } from '../data/fashion-mnist.js'

/**
 * Loads 'subset' (shipped), 'full' (Debian's package) or a folder of the four IDX files.
 *
 * @example
 * ```ts
 * const { train, test } = await loadData('subset')
 * ```
 */
export function loadData(spec: string): Promise<FashionMnist> {
  if (spec === 'subset' || spec === 'full') return loadFashionMnist({ set: spec })
  return loadFashionMnist({ dir: spec })
}

/** "Fashion-MNIST subset (10000 train / 2000 test)" and the like. */
export function describeData(data: FashionMnist): string {
  const what = data.source.set === 'subset' ? 'subset' : 'full'
  return `Fashion-MNIST ${what} (${data.train.count} train / ${data.test.count} test, ${data.source.dir})`
}
