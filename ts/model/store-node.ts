/**
 * Node's model store: a directory holding model.json, weights.bin and, when saved with
 * `{ optimizer }`, optimizer.bin. Only the Node entry imports this file.
 */

import { constants, type Stats } from 'node:fs'
import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { invalidArg, ThinnetError } from '../errors.js'
import type { Ops } from '../ops-port.js'
import { describeValue } from '../validate.js'
import { fromArtifacts } from './deserialize.js'
import { OPTIMIZER_FILE } from './serialize-optimizer.js'
import { toArtifacts, WEIGHTS_FILE, type ModelJSON, type SavedFiles, type SaveOptions } from './serialize.js'
import type { Sequential } from './sequential.js'
import { savedFileName, type ModelStore } from './store.js'
import { MAX_WEIGHT_BYTES } from './weights-check.js'

/** The largest file loading reads (about what Node's readFile can read at once, and the weights' limit). */
const MAX_FILE_BYTES = MAX_WEIGHT_BYTES

export const nodeModelStore: ModelStore = { save: saveModel, load: loadModel }

/**
 * Writes model.json and weights.bin (and optimizer.bin with `options.optimizer`) into `dir`
 * (created if missing), model.json last, so a directory with a model.json holds a whole save.
 */
async function saveModel(model: Sequential, destination: string, options: SaveOptions): Promise<SavedFiles> {
  const dir = directoryOf(destination)
  const { json, weights, optimizerState } = toArtifacts(model, options)
  await mkdir(dir, { recursive: true })
  const jsonPath = join(dir, 'model.json')
  const weightsPath = join(dir, WEIGHTS_FILE)
  await writeFile(weightsPath, weights)
  let optimizerPath: string | undefined
  if (optimizerState !== undefined) {
    optimizerPath = join(dir, OPTIMIZER_FILE)
    await writeFile(optimizerPath, optimizerState)
  }
  await writeFile(jsonPath, `${JSON.stringify(json, null, 2)}\n`)
  return optimizerPath === undefined
    ? { json: jsonPath, weights: weightsPath }
    : { json: jsonPath, weights: weightsPath, optimizer: optimizerPath }
}

/** A URL scheme at the start of a location ('indexeddb://', 'https://', ...). */
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i

/**
 * The directory a Node location names: a path, or a `file://` URL as TensorFlow.js writes them
 * ('file://out' and 'file://./out' relative, 'file:///abs/path' absolute, percent-escapes
 * decoded). Any other scheme is the browser's (indexeddb://, downloads://, http(s)://): refused
 * with ERR_INVALID_ARG instead of becoming a folder named after it.
 */
export function directoryOf(location: unknown): string {
  if (typeof location !== 'string' || location === '') {
    throw invalidArg(`dir must be a directory path or a file:// URL, received ${describeValue(location)}`)
  }
  const scheme = SCHEME.exec(location)
  if (scheme === null) return location
  if (scheme[1].toLowerCase() !== 'file') {
    throw invalidArg(
      `dir ${describeValue(location)}: ${scheme[1]}:// is not a location in Node; give a directory path or file://<dir> ` +
        "(indexeddb://, downloads:// and http(s):// are the browser entry's: import 'thinnet/web')",
    )
  }
  const rest = location.slice(scheme[0].length)
  const dir = rest.startsWith('/') ? fileURLToPath(`file://${rest}`) : rest
  if (dir === '') throw invalidArg(`dir ${describeValue(location)} names no directory: give file://<dir>`)
  return dir
}

/** What a non-regular file is, for the message. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a FIFO'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device'
  return 'not a file'
}

/**
 * The bytes of the regular file at `path` (`what` names it in messages). Opened with O_NONBLOCK
 * and checked with fstat before any read: a FIFO would otherwise block the read (and the thread
 * pool) until a writer came, a directory would fail with a raw EISDIR. Every failure is
 * ERR_INVALID_ARG naming the file: `missing` says what a missing file means.
 */
async function readRegularFile(path: string, what: string, missing: string): Promise<Uint8Array> {
  let handle: FileHandle
  try {
    // O_NONBLOCK is 0 where the platform has none (Windows, which has no FIFOs to open either).
    handle = await open(path, constants.O_RDONLY | ((constants as Partial<typeof constants>).O_NONBLOCK ?? 0))
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT') throw invalidArg(missing)
    throw invalidArg(`cannot read ${what} ${path}: ${typeof code === 'string' ? code : (error as Error).message}`)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw invalidArg(`${what} ${path} is not a regular file (${kindOf(stats)})`)
    if (stats.size > MAX_FILE_BYTES)
      throw invalidArg(`${what} ${path} holds ${stats.size} bytes, past the ${MAX_FILE_BYTES} a saved model's file may have`)
    return new Uint8Array(await handle.readFile())
  } catch (error) {
    if (error instanceof ThinnetError) throw error
    const code = (error as { code?: unknown }).code
    throw invalidArg(`cannot read ${what} ${path}: ${typeof code === 'string' ? code : (error as Error).message}`)
  } finally {
    await handle.close()
  }
}

/**
 * Reads a model saved by `saveModel` from `dir` onto `tn`'s backend, with its optimizer state
 * when model.json has an optimizer section (then optimizer.bin must be there too). Only regular
 * files are read (readRegularFile); whatever is wrong is a ThinnetError naming the file.
 */
async function loadModel(tn: Ops, source: string): Promise<Sequential> {
  const dir = directoryOf(source)
  if (dir.includes('\0')) throw invalidArg(`dir must be a directory path, received a path with a NUL byte: ${describeValue(dir)}`)
  const jsonPath = join(dir, 'model.json')
  const text = new TextDecoder().decode(
    await readRegularFile(jsonPath, 'the model description', `no saved model in ${dir}: ${jsonPath} is missing`),
  )
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw invalidArg(`${jsonPath} is not valid JSON: ${(error as Error).message}`)
  }
  const file = savedFileName((json as { weights?: { file?: unknown } } | null)?.weights?.file, 'weights.file', jsonPath)
  const weights = await readRegularFile(
    join(dir, file),
    'the weights file',
    `${jsonPath} names the weights file ${file}, which is missing from ${dir}`,
  )
  const section = (json as { optimizer?: { state?: { file?: unknown } } | null }).optimizer
  if (section === undefined) return fromArtifacts(tn, { json: json as ModelJSON, weights })
  const stateFile = savedFileName(section?.state?.file, 'optimizer.state.file', jsonPath)
  const optimizerState = await readRegularFile(
    join(dir, stateFile),
    'the optimizer state file',
    `${jsonPath} describes optimizer state in ${stateFile}, which is missing from ${dir}`,
  )
  return fromArtifacts(tn, { json: json as ModelJSON, weights, optimizerState })
}
