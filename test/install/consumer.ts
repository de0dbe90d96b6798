// A TypeScript user of the installed package, compiled under each module setting of
// test/install.test.ts (node16 and nodenext as ESM, nodenext as CommonJS, bundler) and then run.
// It may import only 'thinnet' (the test copies it into a project that installed the tarball).
import { Generator, load, ThinnetError } from 'thinnet'
import type { DropoutOptions, Sequential, Thinnet } from 'thinnet'
import type { FashionMnist } from 'thinnet/data'

async function main(): Promise<void> {
  const tn: Thinnet = await load()
  const g = new Generator(42n)
  const options: DropoutOptions = { p: 0.5, ...g.next(8) }
  const y: Float32Array = tn.dropout(new Float32Array(8).fill(1), options)
  let code = ''
  try {
    tn.dropout(new Float32Array(1), { p: 2, seed: 1 })
  } catch (error) {
    if (error instanceof ThinnetError) code = error.code
  }
  const model: Sequential = tn.sequential([tn.layers.dense({ units: 2 })], { inputs: 3, seed: 1n })
  // Sequential's internals are private state: neither in the published types nor on the object.
  // @ts-expect-error settleLoss is not part of the published types
  const hook: unknown = model.settleLoss
  if (hook !== undefined) throw new Error('Sequential exposes its internal settleLoss')
  const data = undefined as FashionMnist | undefined
  console.log(JSON.stringify({ backend: tn.backend, kept: y.filter((v) => v === 2).length, code, data: data ?? null }))
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
