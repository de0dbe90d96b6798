/** The --data flag's value turned into a loaded Fashion-MNIST. */

import { stat } from 'node:fs/promises'
import { loadFashionMnist, type FashionMnist } from '../data/fashion-mnist.js'
import { invalidArg } from '../errors.js'

/**
 * Loads 'subset' (shipped), 'full' (Debian's package) or a folder of the four IDX files. A folder
 * that does not exist is ERR_INVALID_ARG naming --data; anything else wrong with the files is the
 * loader's own error.
 *
 * @example
 * ```ts
 * const { train, test } = await loadData('subset')
 * ```
 */
export async function loadData(spec: string): Promise<FashionMnist> {
  if (spec === 'subset' || spec === 'full') return loadFashionMnist({ set: spec })
  const info = await stat(spec).catch(() => undefined)
  if (info === undefined || !info.isDirectory()) {
    throw invalidArg(`--data ${spec}: no such folder (give 'subset', 'full' or a folder holding the four Fashion-MNIST IDX files)`)
  }
  return loadFashionMnist({ dir: spec })
}

/** "Fashion-MNIST subset (3000 train / 5000 test, <folder>)" and the like. */
export function describeData(data: FashionMnist, withFolder = true): string {
  const what = data.source.set === 'subset' ? 'subset' : 'full'
  return `Fashion-MNIST ${what} (${data.train.count} train / ${data.test.count} test${withFolder ? `, ${data.source.dir}` : ''})`
}
