/**
 * `thinnet/data` (Node only: reads files with node:fs and node:zlib): the IDX reader for files and
 * the Fashion-MNIST loader. The browser-safe IDX parser, `parseIdx`, is also exported by the main
 * entry.
 */

export { IDX_MAX_ELEMENTS, isGzip, parseIdx, type IdxArray, type IdxDtype, type ParseIdxOptions } from './idx.js'
export { readIdxFile } from './idx-file.js'
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEBIAN_DIR,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SUBSET_PACKAGE,
  fashionMnistSubsetDir,
  loadFashionMnist,
  type FashionMnist,
  type FashionMnistOptions,
  type FashionMnistSplit,
} from './fashion-mnist.js'
