/**
 * The browser's model store, in the spirit of TensorFlow.js `io` handlers:
 * - `tn.loadModel(url)`: model.json fetched from an http(s) or page-relative URL, weights.bin
 *   (and optimizer.bin) fetched beside it, as `model.save(dir)` in Node lays them out, so a
 *   folder saved in Node can be served as it is;
 * - `'indexeddb://<name>'`: save and load in the page's IndexedDB (database `thinnet-models`,
 *   object store `models`, keyed by name; works in workers too);
 * - `model.save('downloads://<name>')`: the browser downloads `<name>.json` and
 *   `<name>.weights.bin` (and `<name>.optimizer.bin`), the JSON naming its companions, so a
 *   folder holding the downloads of name 'model' loads in Node with `tn.loadModel(dir)`.
 */

import { invalidArg } from '../errors.js'
import type { Ops } from '../ops-port.js'
import { describeValue } from '../validate.js'
import { fromArtifacts } from './deserialize.js'
import type { ModelArtifacts, ModelJSON, SavedFiles, SaveOptions } from './serialize.js'
import type { Sequential } from './sequential.js'
import { savedFileName, type ModelStore } from './store.js'

const INDEXEDDB = 'indexeddb://'
const DOWNLOADS = 'downloads://'
const DATABASE = 'thinnet-models'
const OBJECT_STORE = 'models'

export const webModelStore: ModelStore = {
  async save(model: Sequential, destination: string, options: SaveOptions): Promise<SavedFiles> {
    if (typeof destination === 'string' && destination.startsWith(INDEXEDDB)) {
      const name = storedName(destination, INDEXEDDB)
      await putArtifacts(name, model.toArtifacts(options))
      return { json: destination, weights: destination, ...(options.optimizer === undefined ? {} : { optimizer: destination }) }
    }
    if (typeof destination === 'string' && destination.startsWith(DOWNLOADS)) {
      return download(storedName(destination, DOWNLOADS), model.toArtifacts(options))
    }
    throw invalidArg(
      `destination must be 'indexeddb://<name>' or 'downloads://<name>' in the browser (model.toArtifacts() gives the bytes ` +
        `for anywhere else), received ${describeValue(destination)}`,
    )
  },

  async load(tn: Ops, source: string): Promise<Sequential> {
    if (typeof source !== 'string' || source === '') {
      throw invalidArg(`source must be the URL of a model.json or 'indexeddb://<name>', received ${describeValue(source)}`)
    }
    if (source.startsWith(INDEXEDDB)) return fromArtifacts(tn, await getArtifacts(storedName(source, INDEXEDDB)))
    return fromArtifacts(tn, await fetchArtifacts(resolve(source)))
  },
}

function storedName(location: string, scheme: string): string {
  const name = location.slice(scheme.length)
  if (name === '') throw invalidArg(`${scheme}<name> needs a name, received ${describeValue(location)}`)
  return name
}

function resolve(source: string): URL {
  const base = typeof document !== 'undefined' ? document.baseURI : (globalThis as { location?: Location }).location?.href
  try {
    return new URL(source, base)
  } catch {
    throw invalidArg(`source must be the URL of a model.json or 'indexeddb://<name>', received ${describeValue(source)}`)
  }
}

async function fetchBytes(url: URL, what: string): Promise<Response> {
  let response: Response
  try {
    response = await fetch(url)
  } catch (error) {
    throw new Error(`fetching the ${what} ${url.href} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  if (!response.ok) throw invalidArg(`no ${what} at ${url.href}: HTTP ${response.status}`)
  return response
}

/** model.json from `jsonUrl`, then the files it names, resolved beside it. */
async function fetchArtifacts(jsonUrl: URL): Promise<ModelArtifacts> {
  const text = await (await fetchBytes(jsonUrl, 'saved model')).text()
  let json: ModelJSON
  try {
    json = JSON.parse(text) as ModelJSON
  } catch (error) {
    throw invalidArg(`${jsonUrl.href} is not valid JSON: ${(error as Error).message}`)
  }
  const weightsFile = savedFileName((json as { weights?: { file?: unknown } } | null)?.weights?.file, 'weights.file', jsonUrl.href)
  const weights = new Uint8Array(await (await fetchBytes(new URL(weightsFile, jsonUrl), 'weights file')).arrayBuffer())
  const section = (json as { optimizer?: { state?: { file?: unknown } } | null }).optimizer
  if (section === undefined) return { json, weights }
  const stateFile = savedFileName(section?.state?.file, 'optimizer.state.file', jsonUrl.href)
  const optimizerState = new Uint8Array(await (await fetchBytes(new URL(stateFile, jsonUrl), 'optimizer state file')).arrayBuffer())
  return { json, weights, optimizerState }
}

/** The downloads: the JSON names its companion files by their downloaded names. */
function download(name: string, artifacts: ModelArtifacts): SavedFiles {
  if (typeof document === 'undefined') {
    throw invalidArg("downloads:// needs a page (a document): in a worker, post model.toArtifacts() to the page or use 'indexeddb://'")
  }
  const jsonName = `${name}.json`
  const weightsName = `${name}.weights.bin`
  const optimizerName = `${name}.optimizer.bin`
  const json: ModelJSON = { ...artifacts.json, weights: { ...artifacts.json.weights, file: weightsName } }
  if (json.optimizer !== undefined) json.optimizer = { ...json.optimizer, state: { ...json.optimizer.state, file: optimizerName } }
  // The weights first and the JSON last, as the Node store writes them.
  save(weightsName, new Blob([artifacts.weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }))
  if (artifacts.optimizerState !== undefined) {
    save(optimizerName, new Blob([artifacts.optimizerState as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }))
  }
  save(jsonName, new Blob([`${JSON.stringify(json, null, 2)}\n`], { type: 'application/json' }))
  return artifacts.optimizerState === undefined
    ? { json: jsonName, weights: weightsName }
    : { json: jsonName, weights: weightsName, optimizer: optimizerName }
}

function save(fileName: string, blob: Blob): void {
  const url = URL.createObjectURL(blob)
  const anchor = document.createElement('a')
  anchor.href = url
  anchor.download = fileName
  anchor.style.display = 'none'
  document.body.append(anchor)
  anchor.click()
  anchor.remove()
  // The download has its own reference to the blob once started; free the URL after this turn.
  setTimeout(() => URL.revokeObjectURL(url), 0)
}

/** The record kept per name: the artifacts as they are (IndexedDB stores typed arrays natively). */
type StoredModel = ModelArtifacts

function openDatabase(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') throw invalidArg('indexeddb:// needs IndexedDB, which this environment lacks')
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1)
    request.onupgradeneeded = () => request.result.createObjectStore(OBJECT_STORE)
    request.onsuccess = () => resolve(request.result)
    request.onerror = () =>
      reject(new Error(`cannot open IndexedDB database ${DATABASE}: ${request.error?.message}`, { cause: request.error }))
    request.onblocked = () => reject(new Error(`IndexedDB database ${DATABASE} is blocked by another tab holding an older version`))
  })
}

async function transaction<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDatabase()
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(OBJECT_STORE, mode)
      const request = body(tx.objectStore(OBJECT_STORE))
      // Resolve when the transaction commits, not when the request succeeds: a write is only
      // durable then.
      tx.oncomplete = () => resolve(request.result)
      tx.onerror = () => reject(new Error(`IndexedDB ${mode} failed: ${tx.error?.message}`, { cause: tx.error }))
      tx.onabort = () => reject(new Error(`IndexedDB ${mode} was aborted: ${tx.error?.message}`, { cause: tx.error }))
    })
  } finally {
    db.close()
  }
}

async function putArtifacts(name: string, artifacts: ModelArtifacts): Promise<void> {
  const record: StoredModel = { ...artifacts }
  await transaction('readwrite', (store) => store.put(record, name))
}

async function getArtifacts(name: string): Promise<ModelArtifacts> {
  const record = (await transaction('readonly', (store) => store.get(name))) as StoredModel | undefined
  if (record === undefined) throw invalidArg(`no model saved as ${INDEXEDDB}${name}`)
  return record
}
