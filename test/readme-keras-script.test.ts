/**
 * The README's Keras-style script (issue 16) runs as written: the code block after the
 * `<!-- keras-style script -->` marker, saved as an ES module inside this package (so `thinnet`
 * and `thinnet/data` resolve through the package's own exports, to dist/) and run by Node.
 */

import { execFile } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

async function script(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const at = readme.indexOf('<!-- keras-style script -->')
  expect(at, 'the README marks its Keras-style script').toBeGreaterThan(0)
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at))
  if (block === null) throw new Error('no ```js block after the marker')
  return block[1]
}

it('runs as written, with early stopping on validation data and a test accuracy well above chance', async () => {
  const file = join(ROOT, `readme-keras-script-${process.pid}.mjs`)
  await writeFile(file, await script())
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], { cwd: ROOT, timeout: 120_000 })
    expect(stderr).toBe('')
    expect(stdout).toMatch(/^epoch 1: loss \d\.\d{3}, val \d\.\d{3}$/m)
    const last = /^seed (\d+): (\d+) epochs \(best (\d+)\), test accuracy (\d+\.\d\d)%$/m.exec(stdout)
    expect(last, stdout).not.toBeNull()
    const [, , epochs, best, accuracy] = last ?? []
    expect(Number(best)).toBeLessThanOrEqual(Number(epochs))
    expect(Number(accuracy)).toBeGreaterThan(70)
  } finally {
    await rm(file, { force: true })
  }
})
