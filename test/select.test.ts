/**
 * Backend selection with fake loaders (swc's load-bindings tests do the same): every fallback
 * path, every forced path, and the errors when loading fails.
 */

import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Backend } from '../ts/backend.js'
import { load } from '../ts/index.js'
import { selectBackend, type BackendLoaders } from '../ts/select.js'
import { referenceBackend } from './reference-backend.js'
import { expectThinnetRejection } from './util.js'

interface Fakes {
  native?: Backend | Error
  wasm?: Backend | Error
  scalar?: Backend | Error
  simd?: boolean | Error
}

/** Loaders that return the given backends or throw the given errors, and record each call. */
function fakeLoaders(fakes: Fakes): BackendLoaders & { log: string[] } {
  const log: string[] = []
  const give = (value: Backend | Error | undefined, name: string): Backend => {
    if (value === undefined) throw new Error(`${name} is not part of this test`)
    if (value instanceof Error) throw value
    return value
  }
  return {
    log,
    native() {
      log.push('native')
      return give(fakes.native, 'native')
    },
    // Asynchronous, as the real one: rejections must be handled like throws.
    wasm({ simd }) {
      return new Promise((resolve) => {
        log.push(simd ? 'wasm' : 'wasm-scalar')
        resolve(give(simd ? fakes.wasm : fakes.scalar, simd ? 'wasm' : 'wasm-scalar'))
      })
    },
    wasmSimdSupported() {
      log.push('simd?')
      if (fakes.simd instanceof Error) throw fakes.simd
      return fakes.simd ?? true
    },
  }
}

const native = () => referenceBackend('native')
const wasm = () => referenceBackend('wasm', 'simd128')
const scalar = () => referenceBackend('wasm-scalar', 'scalar')

function loadError(message: string): Error {
  return new Error(message, { cause: new Error(`${message} (underlying)`) })
}

describe('forced backends', () => {
  it('an explicit option wins over THINNET_BACKEND and loads only that backend', async () => {
    const loaders = fakeLoaders({ native: native(), wasm: wasm(), scalar: scalar() })
    const backend = await selectBackend({ backend: 'wasm-scalar', env: 'native', loaders })
    expect(backend.name).toBe('wasm-scalar')
    expect(loaders.log).toEqual(['wasm-scalar'])
  })

  it('THINNET_BACKEND applies when there is no option', async () => {
    const loaders = fakeLoaders({ native: native(), wasm: wasm(), scalar: scalar() })
    expect((await selectBackend({ env: 'wasm', loaders })).name).toBe('wasm')
    expect(loaders.log).toEqual(['simd?', 'wasm'])
  })

  it('a forced backend that fails is ERR_BACKEND_UNAVAILABLE with the load error as cause, never a fallback', async () => {
    const failure = loadError('cannot open build/thinnet.linux-x64-gnu.node')
    for (const [backend, env, source] of [
      ['native', undefined, 'the backend option'],
      [undefined, 'native', 'THINNET_BACKEND'],
    ] as const) {
      const loaders = fakeLoaders({ native: failure, wasm: wasm(), scalar: scalar() })
      const error = await expectThinnetRejection(
        selectBackend({ backend, env, loaders }),
        'ERR_BACKEND_UNAVAILABLE',
        new RegExp(`^the native backend was requested by ${source} but cannot load: cannot open build/thinnet`),
      )
      expect(error.cause).toBe(failure)
      expect(error.message).toContain('(underlying)')
      expect(loaders.log).toEqual(['native'])
    }
  })

  it("a forced 'wasm' on an engine without SIMD says so and does not fall back to scalar", async () => {
    const loaders = fakeLoaders({ wasm: wasm(), scalar: scalar(), simd: false })
    await expectThinnetRejection(
      selectBackend({ backend: 'wasm', loaders }),
      'ERR_BACKEND_UNAVAILABLE',
      /^the wasm backend was requested by the backend option but cannot load: this engine does not support WebAssembly SIMD/,
    )
    expect(loaders.log).toEqual(['simd?'])
  })

  it('a forced wasm-scalar that fails is an error too', async () => {
    const failure = new Error('thinnet_scalar.wasm not found')
    const loaders = fakeLoaders({ native: native(), scalar: failure })
    const error = await expectThinnetRejection(
      selectBackend({ env: 'wasm-scalar', loaders }),
      'ERR_BACKEND_UNAVAILABLE',
      /wasm-scalar backend was requested by THINNET_BACKEND but cannot load: thinnet_scalar.wasm not found/,
    )
    expect(error.cause).toBe(failure)
  })

  it('unknown names are ERR_INVALID_ARG naming their source, and nothing is loaded', async () => {
    const loaders = fakeLoaders({ native: native() })
    await expectThinnetRejection(
      selectBackend({ backend: 'cuda', loaders }),
      'ERR_INVALID_ARG',
      /^backend must be 'native', 'wasm' or 'wasm-scalar', received the string "cuda"$/,
    )
    await expectThinnetRejection(
      selectBackend({ backend: 3, loaders }),
      'ERR_INVALID_ARG',
      /^backend must be 'native', 'wasm' or 'wasm-scalar', received 3$/,
    )
    await expectThinnetRejection(
      selectBackend({ env: 'Native', loaders }),
      'ERR_INVALID_ARG',
      /^THINNET_BACKEND must be 'native', 'wasm' or 'wasm-scalar', received the string "Native"$/,
    )
    expect(loaders.log).toEqual([])
  })
})

describe('automatic selection', () => {
  it('takes native when it loads', async () => {
    const loaders = fakeLoaders({ native: native(), wasm: wasm(), scalar: scalar() })
    expect((await selectBackend({ loaders })).name).toBe('native')
    expect(loaders.log).toEqual(['native'])
  })

  it('treats an empty THINNET_BACKEND as unset', async () => {
    const loaders = fakeLoaders({ native: native() })
    expect((await selectBackend({ env: '', loaders })).name).toBe('native')
  })

  it('falls back to WASM SIMD when native fails', async () => {
    const loaders = fakeLoaders({ native: loadError('no binary'), wasm: wasm(), scalar: scalar() })
    expect((await selectBackend({ loaders })).name).toBe('wasm')
    expect(loaders.log).toEqual(['native', 'simd?', 'wasm'])
  })

  it('falls back to scalar WASM when native fails and the engine lacks SIMD', async () => {
    const loaders = fakeLoaders({ native: loadError('no binary'), wasm: wasm(), scalar: scalar(), simd: false })
    expect((await selectBackend({ loaders })).name).toBe('wasm-scalar')
    expect(loaders.log).toEqual(['native', 'simd?', 'wasm-scalar'])
  })

  it('falls back to scalar WASM when the SIMD build fails or the probe for it throws', async () => {
    for (const fakes of [{ wasm: new Error('bad simd module') }, { simd: new Error('probe crashed') }]) {
      const loaders = fakeLoaders({ native: loadError('no binary'), scalar: scalar(), ...fakes })
      expect((await selectBackend({ loaders })).name).toBe('wasm-scalar')
    }
  })

  it('when every backend fails, lists every reason and keeps every load error as cause', async () => {
    const failures = [loadError('no binary for linux-x64-gnu'), new Error('bad simd module'), new Error('no scalar module')]
    const loaders = fakeLoaders({ native: failures[0], wasm: failures[1], scalar: failures[2] })
    const error = await expectThinnetRejection(
      selectBackend({ loaders }),
      'ERR_BACKEND_UNAVAILABLE',
      /^no thinnet backend can load here:\n {2}native: no binary for linux-x64-gnu <- caused by: no binary for linux-x64-gnu \(underlying\)\n {2}wasm: bad simd module\n {2}wasm-scalar: no scalar module$/,
    )
    expect(error.cause).toBeInstanceOf(AggregateError)
    const cause = error.cause as AggregateError
    expect(cause.errors).toEqual(failures)
    expect((cause.errors[0] as Error).cause).toBe(failures[0].cause) // each keeps its own cause
  })
})

describe('telling the caller about a fallback', () => {
  it('onFallback hears which backend was chosen and every earlier failure, once', async () => {
    const noBinary = loadError('no binary')
    const badSimd = new Error('bad simd module')
    const heard: unknown[] = []
    const loaders = fakeLoaders({ native: noBinary, wasm: badSimd, scalar: scalar() })
    await selectBackend({ loaders, onFallback: (chosen, failures) => heard.push({ chosen, failures: [...failures] }) })
    expect(heard).toEqual([
      {
        chosen: 'wasm-scalar',
        failures: [
          { name: 'native', error: noBinary },
          { name: 'wasm', error: badSimd },
        ],
      },
    ])
  })

  it('is not called when the first backend loads, nor for a forced backend', async () => {
    const heard: unknown[] = []
    const onFallback = (chosen: string) => heard.push(chosen)
    await selectBackend({ loaders: fakeLoaders({ native: native() }), onFallback })
    await selectBackend({ backend: 'wasm', loaders: fakeLoaders({ wasm: wasm() }), onFallback })
    expect(heard).toEqual([])
  })
})

describe('probing a loaded backend', () => {
  it('refuses a backend whose masks differ from the reference, and falls back in auto mode', async () => {
    const broken = referenceBackend('native')
    broken.dropoutMask = (_n, out) => out.fill(0x5555_5555)
    await expectThinnetRejection(
      selectBackend({ backend: 'native', loaders: fakeLoaders({ native: broken }) }),
      'ERR_BACKEND_UNAVAILABLE',
      /cannot load: it loaded, but its probe mask \[0x55555555,0x55555555\] differs from the reference .* \(a stale or broken build: rebuild it\)$/,
    )
    const loaders = fakeLoaders({ native: broken, wasm: wasm() })
    expect((await selectBackend({ loaders })).name).toBe('wasm')
  })

  it('refuses a loader that returns another backend or something else', async () => {
    await expectThinnetRejection(
      selectBackend({ backend: 'native', loaders: fakeLoaders({ native: scalar() }) }),
      'ERR_BACKEND_UNAVAILABLE',
      /^the native backend was requested by the backend option but cannot load: the loader returned a backend named 'wasm-scalar'$/,
    )
    await expectThinnetRejection(
      selectBackend({ backend: 'native', loaders: fakeLoaders({ native: {} as Backend }) }),
      'ERR_BACKEND_UNAVAILABLE',
      /cannot load: the loader returned/,
    )
  })
})

describe('load()', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('rejects an unknown backend option with ERR_INVALID_ARG', async () => {
    await expectThinnetRejection(
      load({ backend: 'gpu' as never }),
      'ERR_INVALID_ARG',
      /^backend must be 'native', 'wasm' or 'wasm-scalar', received the string "gpu"$/,
    )
  })

  it('rejects an unknown THINNET_BACKEND with ERR_INVALID_ARG naming the variable', async () => {
    vi.stubEnv('THINNET_BACKEND', 'cuda')
    await expectThinnetRejection(
      load(),
      'ERR_INVALID_ARG',
      /^THINNET_BACKEND must be 'native', 'wasm' or 'wasm-scalar', received the string "cuda"$/,
    )
  })
})
