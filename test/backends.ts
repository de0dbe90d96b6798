/**
 * Runs a suite once per backend (TensorFlow.js `describeWithFlags`, candle's `test_device!`).
 * Every backend this machine can load gets the whole suite; one that cannot load is skipped
 * loudly (a console warning and a skipped block naming the reason). THINNET_REQUIRE_BACKENDS
 * (e.g. "native,wasm,wasm-scalar", as CI sets it) turns a missing backend into a failing test, so
 * a skip cannot pass unnoticed.
 */

import { describe, it } from 'vitest'
import { load, type BackendName, type Thinnet } from '../ts/index.js'

export const ALL_BACKENDS: readonly BackendName[] = ['native', 'wasm', 'wasm-scalar']

function requiredBackends(): Set<string> {
  const raw = process.env.THINNET_REQUIRE_BACKENDS ?? ''
  return new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )
}

/** A backend (or anything per backend) that loaded, or the reason it did not. */
export type Loaded<T> = { name: BackendName; value: T } | { name: BackendName; error: unknown }

/** Loads one thing per backend, never throwing: failures are kept for describeEach to report. */
export async function loadEach<T>(load: (name: BackendName) => Promise<T>): Promise<Loaded<T>[]> {
  return Promise.all(
    ALL_BACKENDS.map(async (name): Promise<Loaded<T>> => {
      try {
        return { name, value: await load(name) }
      } catch (error) {
        return { name, error }
      }
    }),
  )
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

const required = requiredBackends()
const warned = new Set<string>()

/**
 * Declares `body` once per loaded entry, under "`title` [backend]"; an entry that did not load is
 * a loud skip, or a failing test when THINNET_REQUIRE_BACKENDS names it.
 */
export function describeEach<T>(title: string, entries: Loaded<T>[], body: (value: T) => void): void {
  const unknown = [...required].filter((name) => !(ALL_BACKENDS as readonly string[]).includes(name))
  if (unknown.length > 0) {
    describe(title, () => {
      it('THINNET_REQUIRE_BACKENDS names only known backends', () => {
        throw new Error(`THINNET_REQUIRE_BACKENDS names unknown backends: ${unknown.join(', ')} (known: ${ALL_BACKENDS.join(', ')})`)
      })
    })
  }
  for (const entry of entries) {
    const label = `${title} [${entry.name}]`
    if ('value' in entry) {
      describe(label, () => body(entry.value))
    } else if (required.has(entry.name)) {
      describe(label, () => {
        it('loads (THINNET_REQUIRE_BACKENDS requires it)', () => {
          throw new Error(`the ${entry.name} backend is required but cannot load: ${reason(entry.error)}`, {
            cause: entry.error,
          })
        })
      })
    } else {
      if (!warned.has(entry.name)) {
        warned.add(entry.name)
        console.warn(
          `\n*** thinnet: the ${entry.name} backend cannot load, its tests are SKIPPED: ${reason(entry.error)}\n` +
            `*** (set THINNET_REQUIRE_BACKENDS=${entry.name} to make this a failure)\n`,
        )
      }
      describe.skip(`${label} SKIPPED, cannot load: ${reason(entry.error)}`, () => {
        it('(backend unavailable)', () => {})
      })
    }
  }
}

// 'wasm' runs its threaded build with two threads (a worker beside the calling thread) whatever
// the machine's core count, so every suite covers the worker pool; test/wasm-threads.test.ts
// checks that 1, 2 and 3 threads give the same bits.
const loaded = await loadEach((name) => load({ backend: name, threads: name === 'wasm' ? 2 : 'auto' }))

/** The backends that loaded, for tests that compare them with each other. */
export const loadedBackends: Thinnet[] = loaded.flatMap((entry) => ('value' in entry ? [entry.value] : []))

/** Declares `body` once per backend, with the facade loaded on it. */
export function describeBackends(title: string, body: (tn: Thinnet) => void): void {
  describeEach(title, loaded, body)
}
