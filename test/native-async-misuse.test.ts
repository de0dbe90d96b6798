/**
 * No JavaScript input may crash the process through the native async exports (issue 11, item 7):
 * shrinking a resizable buffer or transferring an array while denseAsync / denseBackwardAsync run,
 * with allocation pressure and gc(). Each misuse runs in a child process
 * (test/native-async-misuse/child.mjs over dist/, `npm run build:ts`), so a segfault fails here
 * (signal SIGSEGV) instead of killing vitest; 20 iterations each.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { load } from '../ts/index.js'

const CHILD = fileURLToPath(new URL('./native-async-misuse/child.mjs', import.meta.url))
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))
const nativeLoads = await load({ backend: 'native' }).then(
  () => true,
  () => false,
)

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  outcomes: ({ ok: true } | { code: string })[]
  stderr: string
}

function run(scenario: string): Promise<Run> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build it first with npm run build:ts`)
  return new Promise((resolve) => {
    execFile(process.execPath, ['--expose-gc', CHILD, scenario, '20'], { timeout: 120_000 }, (error, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? ''
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
        signal: error?.signal ?? null,
        outcomes: line.startsWith('[') ? (JSON.parse(line) as Run['outcomes']) : [],
        stderr,
      })
    })
  })
}

/** The child exited 0 (no signal) and each of its 20 promises settled as one of `allowed`. */
async function survives(scenario: string, allowed: string[]): Promise<void> {
  const r = await run(scenario)
  expect({ code: r.code, signal: r.signal, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, signal: null, stderr: '' })
  expect(r.outcomes).toHaveLength(20)
  for (const o of r.outcomes) expect(allowed).toContain('ok' in o ? 'ok' : o.code)
}

describe.skipIf(!nativeLoads)('native async calls survive misuse', () => {
  it('the facade refuses a resizable ArrayBuffer for denseAsync with ERR_INVALID_ARG', async () => {
    await survives('resize', ['ERR_INVALID_ARG'])
    const tn = await load({ backend: 'native' })
    // ES2024 constructors that TypeScript's lib here does not declare.
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer
    const Growable = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer
    const rab = new Resizable(8, { maxByteLength: 16 })
    const x = new Float32Array(rab)
    const w = new Float32Array(2)
    await expect(tn.denseAsync({ x, w, rows: 1, inputs: 2, units: 1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringMatching(/^x must be a Float32Array over a fixed-length buffer/) as unknown,
    })
    const grow = new Growable(8, { maxByteLength: 16 })
    await expect(
      tn.denseBackwardAsync({
        x: w,
        w,
        dy: new Float32Array(new SharedArrayBuffer(4)),
        dw: new Float32Array(grow),
        rows: 1,
        inputs: 2,
        units: 1,
      }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringMatching(/^dw must be a Float32Array over a fixed-length buffer/) as unknown,
    })
    // The sync call still takes them (nothing can run between its check and its kernel).
    expect(tn.dense({ x, w, rows: 1, inputs: 2, units: 1 })).toHaveLength(1)
  })

  it('the addon survives an input shrunk under it (no facade): the result is computed from the copy', async () => {
    await survives('raw-resize', ['ok'])
  })

  it('the addon survives an output shrunk under it (no facade): ERR_INVALID_ARG, nothing written', async () => {
    await survives('raw-resize-out', ['ERR_INVALID_ARG'])
  })

  it('transferring and collecting an ordinary out during denseAsync rejects with ERR_INVALID_ARG', async () => {
    await survives('transfer-out', ['ERR_INVALID_ARG'])
  })

  it("allocate()'s out is used in place: a transfer copies it (the original stays attached and gets the result), nothing crashes", async () => {
    await survives('transfer-out-allocated', ['ok'])
    await survives('transfer-out-allocated-kept', ['ok'])
  })

  it('transferring and collecting the inputs during denseAsync gives the sync result, plain or allocated', async () => {
    await survives('transfer-in', ['ok'])
    await survives('transfer-in-allocated', ['ok'])
  })

  it('transferring dw and dy during denseBackwardAsync rejects with ERR_INVALID_ARG', async () => {
    await survives('transfer-backward', ['ERR_INVALID_ARG'])
  })

  it('without misuse, denseAsync and denseBackwardAsync equal the sync calls bit for bit', async () => {
    await survives('identical', ['ok'])
  })
})
