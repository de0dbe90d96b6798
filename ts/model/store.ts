/**
 * Where `model.save(destination)` writes and `tn.loadModel(source)` reads: a platform's model
 * store, given to the facade by its entry. Node's (store-node.ts) uses directories; the browser's
 * (store-web.ts) HTTP URLs, IndexedDB and downloads. The artifacts themselves are the same
 * everywhere (serialize.ts), so a model saved on one platform loads on the other.
 */

import { invalidArg } from '../errors.js'
import type { Ops } from '../ops-port.js'
import { describeValue } from '../validate.js'
import type { SavedFiles, SaveOptions } from './serialize.js'
import type { Sequential } from './sequential.js'

export interface ModelStore {
  /** Writes the model's artifacts to `destination`; says where each one went. */
  save(model: Sequential, destination: string, options: SaveOptions): Promise<SavedFiles>
  /** Reads a model saved at `source` onto `tn`'s backend. */
  load(tn: Ops, source: string): Promise<Sequential>
}

/**
 * The store of each facade object (createThinnet binds it; models find it through their port,
 * which is the facade). Keyed by the port, so that this module needs only the Ops type.
 */
const stores = new WeakMap<Ops, ModelStore>()

export function bindStore(tn: Ops, store: ModelStore): void {
  stores.set(tn, store)
}

/** A facade made without a store (createThinnet in tests) can still use toArtifacts. */
const NO_STORE: ModelStore = {
  save: () =>
    Promise.reject(invalidArg('this thinnet instance has no model store: use model.toArtifacts(), or load() from the thinnet package')),
  load: () =>
    Promise.reject(invalidArg('this thinnet instance has no model store: use tn.modelFromArtifacts(), or load() from the thinnet package')),
}

export function storeOf(tn: Ops): ModelStore {
  return stores.get(tn) ?? NO_STORE
}

/** The longest file name most file systems take (NAME_MAX: 255 bytes of UTF-8). */
const MAX_NAME_BYTES = 255

/**
 * A file name from model.json, or ERR_INVALID_ARG naming the field: a single path component (no
 * separator, not '.' or '..', so nothing climbs out of the model's folder), no NUL byte (which
 * Node refuses with an uncoded error) and at most 255 bytes (beyond, ENAMETOOLONG).
 */
export function savedFileName(value: unknown, field: string, where: string): string {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value === '.' ||
    value === '..' ||
    value.includes('/') ||
    value.includes('\\') ||
    value.includes('\0') ||
    new TextEncoder().encode(value).length > MAX_NAME_BYTES
  ) {
    const shown = typeof value === 'string' && value.length > 64 ? `a name of ${value.length} characters` : describeValue(value)
    throw invalidArg(
      `${where}: ${field} must be a file name (one path component, beside it, of at most ${MAX_NAME_BYTES} bytes, no NUL), received ${shown}`,
    )
  }
  return value
}
