/**
 * Where the WASM backend finds its module (`load({ wasm })`), in Node: a folder, each build's
 * path, bytes or compiled module; what a malformed option and a missing file say. The browser
 * side of the same code (fetch, compileStreaming) runs in Chromium: test/browser/.
 */

import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { load } from '../ts/index.js'
import { load as loadWeb } from '../ts/web.js'
import { referenceMask } from '../ts/reference.js'
import { expectThinnetRejection } from './util.js'

const BUILD = fileURLToPath(new URL('../build/', import.meta.url))
const FILES = ['thinnet_simd.wasm', 'thinnet_scalar.wasm'] as const
const SPEC = { p: 0.3, seed: 99n, offset: 5n }

let folder: string
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'thinnet-wasm-'))
  for (const file of FILES) await copyFile(join(BUILD, file), join(folder, file))
})
afterAll(async () => {
  await rm(folder, { recursive: true, force: true })
})

function expectReferenceMasks(tn: { dropoutMask(n: number, o: typeof SPEC): Uint32Array }): void {
  expect([...tn.dropoutMask(77, SPEC)]).toEqual([...referenceMask(77, SPEC)])
}

describe('load({ wasm }) in Node', () => {
  it('a folder path ending in a separator, for both builds', async () => {
    for (const backend of ['wasm', 'wasm-scalar'] as const) {
      const tn = await load({ backend, wasm: `${folder}/` })
      expect(tn.backend).toBe(backend)
      expect(tn.isa).toBe(backend === 'wasm' ? 'simd128' : 'scalar')
      expectReferenceMasks(tn)
    }
  })

  it('a file: URL of the folder', async () => {
    const tn = await load({ backend: 'wasm', wasm: new URL(`file://${folder}/`) })
    expectReferenceMasks(tn)
  })

  it('each build as bytes or as a compiled module', async () => {
    const simd = await readFile(join(folder, 'thinnet_simd.wasm'))
    const scalar = await WebAssembly.compile(await readFile(join(folder, 'thinnet_scalar.wasm')))
    const a = await load({ backend: 'wasm', wasm: { simd } })
    const b = await load({ backend: 'wasm-scalar', wasm: { scalar } })
    expect([a.isa, b.isa]).toEqual(['simd128', 'scalar'])
    expectReferenceMasks(a)
    expectReferenceMasks(b)
  })

  it('a missing folder: ERR_BACKEND_UNAVAILABLE naming the file it tried to read', async () => {
    const missing = join(folder, 'nowhere') + '/'
    const error = await load({ backend: 'wasm', wasm: missing }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE' })
    expect((error as Error).message).toContain(`file://${missing}thinnet_simd.wasm`)
    expect((error as Error).message).toMatch(/no such file|ENOENT/)
  })

  it('bytes that are not WebAssembly: ERR_BACKEND_UNAVAILABLE saying they do not compile', async () => {
    const error = await load({ backend: 'wasm-scalar', wasm: { scalar: new Uint8Array([1, 2, 3]) } }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE' })
    expect((error as Error).message).toContain('thinnet_scalar.wasm bytes given to load({ wasm }) do not compile')
  })

  it('one build, as a file path, bytes or a module, for the backend it was built for', async () => {
    const simd = await load({ backend: 'wasm', wasm: join(folder, 'thinnet_simd.wasm') })
    expect(simd.isa).toBe('simd128')
    expectReferenceMasks(simd)
    const scalarBytes = await readFile(join(folder, 'thinnet_scalar.wasm'))
    const scalar = await load({ backend: 'wasm-scalar', wasm: scalarBytes })
    expect(scalar.isa).toBe('scalar')
    expectReferenceMasks(scalar)
  })

  it('one build given for the other backend is refused, naming both; automatic selection moves on', async () => {
    const error = await load({ backend: 'wasm-scalar', wasm: join(folder, 'thinnet_simd.wasm') }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE' })
    expect((error as Error).message).toContain('the module given for thinnet_scalar.wasm is the simd128 build, not the scalar one')
    // The browser entry has no native backend: auto tries 'wasm' with the scalar build, refuses it, then loads 'wasm-scalar'.
    const tn = await loadWeb({ wasm: await WebAssembly.compile(await readFile(join(folder, 'thinnet_scalar.wasm'))) })
    expect([tn.backend, tn.isa]).toEqual(['wasm-scalar', 'scalar'])
  })

  it('malformed options are ERR_INVALID_ARG before any backend is tried', async () => {
    await expectThinnetRejection(
      load({ wasm: 42 as never }),
      'ERR_INVALID_ARG',
      /^wasm must be a folder URL, one build \(its URL, bytes or WebAssembly\.Module\) or \{ relaxed, simd, scalar, relaxedThreads, simdThreads \}, received 42$/,
    )
    await expectThinnetRejection(load({ wasm: { smid: new Uint8Array() } as never }), 'ERR_INVALID_ARG', /^wasm has an unknown key 'smid'/)
    await expectThinnetRejection(load({ wasm: { simd: 7 } as never }), 'ERR_INVALID_ARG', /^wasm\.simd must be a URL, bytes/)
    await expectThinnetRejection(load({ wasm: { relaxed: 7 } as never }), 'ERR_INVALID_ARG', /^wasm\.relaxed must be a URL, bytes/)
    await expectThinnetRejection(load({ wasm: { simdThreads: 7 } as never }), 'ERR_INVALID_ARG', /^wasm\.simdThreads must be a URL, bytes/)
    for (const threads of [0, 1.5, -1, 1025, '2', null, Number.NaN]) {
      await expectThinnetRejection(
        load({ threads: threads as never }),
        'ERR_INVALID_ARG',
        /^threads must be 'auto' or an integer in \[1, 1024\], received /,
      )
      await expectThinnetRejection(loadWeb({ threads: threads as never }), 'ERR_INVALID_ARG', /^threads must be 'auto' or an integer/)
    }
  })
})

describe('the browser entry, run in Node', () => {
  it('refuses the native backend, saying it exists only in Node', async () => {
    const error = await loadWeb({ backend: 'native' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE' })
    expect((error as Error).message).toContain('this entry of thinnet has no native backend (it exists only in Node)')
  })

  it('loads WASM from bytes it is given, and its model store refuses a directory', async () => {
    const tn = await loadWeb({ backend: 'wasm', wasm: { simd: await readFile(join(folder, 'thinnet_simd.wasm')) } })
    expectReferenceMasks(tn)
    const model = tn.sequential([tn.layers.dense({ units: 2 })], { inputs: 3, seed: 1n })
    await expectThinnetRejection(
      model.save('out/model'),
      'ERR_INVALID_ARG',
      /^destination must be 'indexeddb:\/\/<name>' or 'downloads:\/\/<name>' in the browser/,
    )
    model.dispose()
  })
})
