/**
 * The published packages as npm would publish them, for the tests that install them the way a
 * user does (test/install.test.ts, test/browser/): the main package packed from a staged copy,
 * and this machine's platform package (npm/<platform>/ with the locally built binary).
 *
 * Staged, without touching the repo's dist/: other suites run dist/ (the CLI tests spawn
 * dist/cli/main.js) while these build, and tsc rewrites every file it emits. So `npm run
 * build:ts -- --outDir <stage>/dist` compiles ts/ into the stage, and package.json, the README,
 * the licence and every other top-level entry package.json "files" names are copied beside it;
 * `npm pack` of the stage then applies "files" exactly as it does in the repo.
 */

import { spawn } from 'node:child_process'
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostPlatform, readNapiTargets } from '../ts/backends/native-loader.js'

export const REPO = fileURLToPath(new URL('..', import.meta.url))

export interface RunResult {
  stdout: string
  stderr: string
}

/**
 * Runs a command, resolving with its output; rejects with its output when it exits non-zero.
 * `env` adds to (or, with undefined values, removes from) this process's environment.
 */
export function run(command: string, args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // The environment given over the process's own, without the variables set to undefined.
    const merged = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, value]) => value !== undefined))
    const child = spawn(command, args, { cwd, env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr })
      else
        reject(
          Object.assign(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited with ${code}:\n${stdout}\n${stderr}`), {
            stdout,
            stderr,
            code,
          }),
        )
    })
  })
}

export interface PackedTarball {
  /** Its path. */
  tarball: string
  /** Bytes. */
  size: number
  /** The paths it holds, as npm pack --json lists them (package-relative). */
  files: string[]
}

async function pack(dir: string, destination: string): Promise<PackedTarball> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], dir)
  const [info] = JSON.parse(stdout) as [{ filename: string; size: number; files: { path: string }[] }]
  return { tarball: join(destination, info.filename), size: info.size, files: info.files.map((f) => f.path) }
}

/** Compiles ts/ into a stage in `root` and packs it as `npm publish` would (see the module comment). */
export async function packMainPackage(root: string): Promise<PackedTarball> {
  const stage = join(root, 'stage-main')
  await mkdir(stage)
  await run('npm', ['run', 'build:ts', '--', '--outDir', join(stage, 'dist')], REPO)
  const manifest = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { files?: string[] }
  const tops = new Set((manifest.files ?? []).map((entry) => entry.split('/')[0]).filter((top) => top !== 'dist'))
  for (const top of tops) await cp(join(REPO, top), join(stage, top), { recursive: true })
  for (const file of await readdir(REPO)) {
    if (file === 'package.json' || /^(readme|licen[cs]e|changelog|notice)(\.|$)/i.test(file))
      await copyFile(join(REPO, file), join(stage, file))
  }
  return pack(stage, root)
}

/**
 * This machine's platform package: npm/<platform>/ (made by napi create-npm-dirs) with the binary
 * `npm run build:native` wrote into build/, as `napi artifacts` would place it for publishing.
 */
export async function packPlatformPackage(root: string): Promise<PackedTarball & { name: string }> {
  const napi = readNapiTargets()
  const platform = hostPlatform()
  const stage = join(root, `stage-${platform}`)
  await cp(join(REPO, 'npm', platform), stage, { recursive: true })
  const binary = `${napi.binaryName}.${platform}.node`
  await copyFile(join(REPO, 'build', binary), join(stage, binary))
  return { ...(await pack(stage, root)), name: `${napi.packageName}-${platform}` }
}

/** The demo's data package, packages/fashion-mnist-subset, as published. */
export async function packDataPackage(root: string): Promise<PackedTarball> {
  return pack(join(REPO, 'packages', 'fashion-mnist-subset'), root)
}

export async function tempRoot(prefix: string): Promise<{ root: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix))
  return { root, cleanup: () => (process.env.THINNET_KEEP_TMP === '1' ? Promise.resolve() : rm(root, { recursive: true, force: true })) }
}
