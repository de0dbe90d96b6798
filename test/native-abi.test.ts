/**
 * The native addon's ABI version, checked at load like the WASM module's: a binary whose calling
 * conventions differ from what ts/backends/native.ts passes (a stale build with reordered
 * positional arguments would otherwise pass the function-name check and misread its arguments)
 * is refused with a message saying what to do.
 */

import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { checkBinding, NATIVE_ABI_VERSION, type NativeBinding } from '../ts/backends/native.js'
import { hostPlatform } from '../ts/backends/native-loader.js'

const path = new URL(`../build/thinnet.${hostPlatform()}.node`, import.meta.url).pathname

function realBinding(): NativeBinding | undefined {
  try {
    return createRequire(import.meta.url)(path) as NativeBinding
  } catch {
    return undefined
  }
}

const binding = realBinding()
const required = (process.env.THINNET_REQUIRE_BACKENDS ?? '').split(',').includes('native')

describe.runIf(binding !== undefined || required)('the native ABI version', () => {
  it('the built addon speaks this loader version', () => {
    expect(binding, `no native build at ${path}`).toBeDefined()
    expect(binding!.abiVersion()).toBe(NATIVE_ABI_VERSION)
    expect(checkBinding(binding, path)).toBe(binding)
  })

  it('a binary of another version is refused, naming both versions and the fix', () => {
    const other = { ...binding!, abiVersion: () => NATIVE_ABI_VERSION + 1 }
    expect(() => checkBinding(other, 'stale.node')).toThrow(
      `stale.node loaded, but it speaks ABI version ${NATIVE_ABI_VERSION + 1} and this loader version ${NATIVE_ABI_VERSION}: ` +
        'a stale or foreign build (rebuild it: npm run build:native)',
    )
  })

  it('a binary from before ABI versions (no abiVersion export) is refused as stale', () => {
    const older: Record<string, unknown> = { ...binding! }
    delete older.abiVersion
    expect(() => checkBinding(older, 'old.node')).toThrow(
      /old\.node loaded, but it is not the thinnet binding \(or a stale build\): missing abiVersion/,
    )
  })
})
