/**
 * Node's model store: a directory holding model.json, weights.bin and, when saved with
 * `{ optimizer }`, optimizer.bin. Only the Node entry imports this file.
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

import { invalidArg } from '../errors.js'
import type { Thinnet } from '../thinnet.js'
import { describeValue } from '../validate.js'
import { fromArtifacts } from './deserialize.js'
import { OPTIMIZER_FILE } from './serialize-optimizer.js'
import { toArtifacts, WEIGHTS_FILE, type ModelJSON, type SavedFiles, type SaveOptions } from './serialize.js'
import type { Sequential } from './sequential.js'
import { savedFileName, type ModelStore } from './store.js'

export const nodeModelStore: ModelStore = { save: saveModel, load: loadModel }

/**
 * Writes model.json and weights.bin (and optimizer.bin with `options.optimizer`) into `dir`
 * (created if missing), model.json last, so a directory with a model.json holds a whole save.
 */
async function saveModel(model: Sequential, dir: string, options: SaveOptions): Promise<SavedFiles> {
  if (typeof dir !== 'string' || dir === '') throw invalidArg(`dir must be a directory path, received ${describeValue(dir)}`)
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
  return optimizerPath === undefined ? { json: jsonPath, weights: weightsPath } : { json: jsonPath, weights: weightsPath, optimizer: optimizerPath }
}

/**
 * Reads a model saved by `saveModel` from `dir` onto `tn`'s backend, with its optimizer state
 * when model.json has an optimizer section (then optimizer.bin must be there too).
 */
async function loadModel(tn: Thinnet, dir: string): Promise<Sequential> {
  if (typeof dir !== 'string' || dir === '') throw invalidArg(`dir must be a directory path, received ${describeValue(dir)}`)
  let json: unknown
  let weights: Uint8Array
  const jsonPath = join(dir, 'model.json')
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8'))
    const file = savedFileName((json as { weights?: { file?: unknown } })?.weights?.file, 'weights.file', jsonPath)
    weights = new Uint8Array(await readFile(join(dir, file)))
  } catch (error) {
    if (error instanceof SyntaxError) throw invalidArg(`${jsonPath} is not valid JSON: ${error.message}`)
    if ((error as { code?: string }).code === 'ENOENT') throw invalidArg(`no saved model in ${dir}: ${(error as Error).message}`)
    throw error
  }
  const section = (json as { optimizer?: unknown }).optimizer
  if (section === undefined) return fromArtifacts(tn, { json: json as ModelJSON, weights })
  const file = savedFileName((section as { state?: { file?: unknown } } | null)?.state?.file, 'optimizer.state.file', jsonPath)
  let optimizerState: Uint8Array
  try {
    optimizerState = new Uint8Array(await readFile(join(dir, file)))
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      throw invalidArg(`${jsonPath} describes optimizer state in ${file}, which is missing from ${dir}`)
    }
    throw error
  }
  return fromArtifacts(tn, { json: json as ModelJSON, weights, optimizerState })
}
