/**
 * The `thinnet` command as a user runs it: the built CLI (dist/cli/main.js, from `npm run
 * build:ts`) in a child process; train and eval once per backend (--backend). Small models only,
 * so each case takes a few seconds. The HTML report is checked apart, from synthetic results,
 * without training.
 */

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO } from '../ts/cli/demo-config.js'
import type { SeedResult } from '../ts/cli/demo-run.js'
import type { ModelJSON } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { renderReport } from '../ts/cli/report.js'
import { lineChart } from '../ts/cli/svg.js'

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

function thinnet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

/** The number after `label` in the text, as a fraction ("accuracy 85.10%" -> 0.851). */
function percentAfter(text: string, label: string): number {
  const match = new RegExp(`${label} (\\d+\\.\\d+)%`).exec(text)
  if (match === null) throw new Error(`no "${label} NN.NN%" in:\n${text}`)
  return Number(match[1]) / 100
}

let dir: string | undefined

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the CLI first with npm run build:ts`)
  dir = await mkdtemp(join(tmpdir(), 'thinnet-cli-'))
})

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('thinnet --help', () => {
  it('lists the commands and exits 0', async () => {
    const r = await thinnet('--help')
    expect(r.code).toBe(0)
    for (const command of ['demo', 'train', 'eval', 'backends']) expect(r.stdout).toContain(command)
  })

  it('explains every flag of train, eval and demo with its default', async () => {
    const train = await thinnet('train', '--help')
    expect(train.code).toBe(0)
    for (const flag of [
      '--layers',
      '--activation',
      '--input-dropout',
      '--dropout',
      '--mode',
      '--max-norm',
      '--optimizer',
      '--lr',
      '--weight-decay',
      '--schedule',
      '--epochs',
      '--batch-size',
      '--seed',
      '--data',
      '--backend',
      '--out',
    ]) {
      expect(train.stdout).toContain(flag)
    }
    expect(train.stdout).toContain('(default: 1024,1024)')
    expect(train.stdout).toMatch(/momentum \(SGD with momentum\), nesterov/)
    const evaluate = await thinnet('eval', '--help')
    for (const flag of ['--model', '--data', '--backend', '--inference', '--samples', '--quiet']) expect(evaluate.stdout).toContain(flag)
    const demo = await thinnet('demo', '--help')
    for (const flag of ['--backend', '--epochs', '--seeds', '--batch-size', '--lr', '--report', '--quiet'])
      expect(demo.stdout).toContain(flag)
    expect(demo.stdout).toContain(`epochs per run (default: ${DEMO.epochs})`)
  })
})

describeBackends('thinnet train and eval', (tn) => {
  let trained: Run
  let model: string

  beforeAll(async () => {
    model = join(dir!, `model-${tn.backend}`)
    trained = await thinnet(
      'train',
      '--backend',
      tn.backend,
      '--layers',
      '16',
      '--dropout',
      '0.2',
      '--epochs',
      '1',
      '--batch-size',
      '64',
      '--lr',
      '0.003',
      '--quiet',
      '--out',
      model,
    )
  })

  it('trains a small model, prints the epoch and saves it', async () => {
    expect(trained.stderr).toBe('')
    expect(trained.code).toBe(0)
    expect(trained.stdout).toContain(`${tn.backend} backend`)
    expect(trained.stdout).toMatch(/epoch 1\/1 {2}loss \d+\.\d{4} {2}acc \d+\.\d\d% {2}test loss \d+\.\d{4} {2}test acc \d+\.\d\d%/)
    // Ten classes: even one epoch of this small model is far above chance (10%); 73% measured.
    expect(percentAfter(trained.stdout, 'test accuracy')).toBeGreaterThan(0.6)
    const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as {
      inputs: number
      outputs: number
      layers: { kind: string; units?: number }[]
    }
    expect(json.inputs).toBe(784)
    expect(json.outputs).toBe(10)
    expect(json.layers.filter((l) => l.kind === 'dense').map((l) => l.units)).toEqual([16, 10])
    expect(existsSync(join(model, 'weights.bin'))).toBe(true)
  })

  it('saves the optimizer state beside the model (Adam: m and v of every tensor), and the saved model restores it', async () => {
    expect(trained.code).toBe(0)
    expect(trained.stdout).toContain(
      `saved      ${join(model, 'model.json')}, ${join(model, 'weights.bin')}, ${join(model, 'optimizer.bin')}`,
    )
    const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as ModelJSON
    const section = json.optimizer!
    expect(section.description).toMatchObject({ kind: 'adam', lr: { kind: 'constant', options: { value: 0.003 } } })
    expect(section.steps).toBeGreaterThan(0)
    const parameters = 784 * 16 + 16 + 16 * 10 + 10
    expect(section.state.byteLength).toBe(2 * 4 * parameters)
    expect((await readFile(join(model, 'optimizer.bin'))).length).toBe(2 * 4 * parameters)
    const again = await tn.loadModel(model)
    try {
      expect(again.restoredOptimizer).toMatchObject({ kind: 'adam', beta1: 0.9, beta2: 0.999 })
      expect(again.progress.epochs).toBe(1)
    } finally {
      again.dispose()
    }
  })

  it('eval of the saved model gives the test accuracy training printed', async () => {
    expect(trained.code).toBe(0)
    const r = await thinnet('eval', '--backend', tn.backend, '--model', model)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('weight scaling: loss')
    expect(percentAfter(r.stdout, 'accuracy')).toBe(percentAfter(trained.stdout, 'test accuracy'))
  })

  it('eval --quiet prints the scores only, as train and demo take --quiet', async () => {
    expect(trained.code).toBe(0)
    const r = await thinnet('eval', '--backend', tn.backend, '--model', model, '--quiet')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(r.stdout).toMatch(/^weight scaling: loss \d/)
  })

  it('eval with Monte Carlo inference prints the entropy statistics', async () => {
    expect(trained.code).toBe(0)
    const r = await thinnet('eval', '--backend', tn.backend, '--model', model, '--inference', 'mc', '--samples', '4')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Monte Carlo (T = 4)')
    expect(r.stdout).toMatch(/entropy AUROC, wrong vs right predictions: 0\.\d{3}/)
  })
})

describe('bad input', () => {
  const cases: [string[], string][] = [
    [['train', '--epochs', '0'], '--epochs'],
    [['train', '--dropout', '1.5'], '--dropout'],
    [['train', '--layers', '16,x'], '--layers'],
    [['train', '--optimizer', 'rmsprop'], '--optimizer'],
    [['train', '--no-such-flag'], '--no-such-flag'],
    [['train', '--data', '/no/such/folder'], '--data /no/such/folder'],
    [['eval'], '--model'],
    [['eval', '--model', 'm', '--inference', 'exact'], '--inference'],
    [['eval', '--model', 'm', '--samples', '5'], '--samples'],
    [['demo', '--seeds', '-1'], '--seeds'],
    [['demo', '--backend', 'gpu'], '--backend'],
    [['demo', '--report', '/no/such/folder/report.html'], '--report /no/such/folder/report.html'],
  ]
  for (const [args, flag] of cases) {
    it(`thinnet ${args.join(' ')} exits 1 naming ${flag}`, async () => {
      const r = await thinnet(...args)
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(flag)
      expect(r.stdout).toBe('')
    })
  }

  it('thinnet train --out under a file exits 1 naming --out, before training', async () => {
    const file = join(dir!, 'a-file')
    await writeFile(file, 'not a folder')
    const r = await thinnet('train', '--layers', '16', '--out', join(file, 'model'))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^thinnet train: ERR_INVALID_ARG: --out .*a-file\/model: cannot create that folder/)
    expect(r.stdout).toBe('')
  })

  it('a ThinnetError prints its code and message, no stack trace', async () => {
    const r = await thinnet('eval', '--model', join(dir!, 'no-model-here'))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^thinnet eval: ERR_INVALID_ARG: no saved model in /)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('thinnet backends', () => {
  it('checks every backend against the reference and exits 0 when they agree', async () => {
    const r = await thinnet('backends')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/all \d backends give the same bits/)
  })
})

describe('the demo report', () => {
  const epochs = [1, 2, 3].map((epoch) => ({
    epoch,
    epochs: 3,
    loss: 1 / epoch,
    accuracy: 0.7 + epoch / 100,
    valLoss: 1.1 / epoch,
    valAccuracy: 0.69 + epoch / 100,
    lr: 0.001,
    dropoutFactor: 1,
    seconds: 1,
    examplesPerSecond: 1000,
  }))
  const run = (name: 'dropout' | 'baseline', train: number, test: number) => ({
    name,
    spec: {
      inputs: 784,
      hidden: [8],
      outputs: 10,
      activation: 'relu' as const,
      inputDropout: name === 'dropout' ? 0.2 : 0,
      dropout: name === 'dropout' ? 0.5 : 0,
      maxNorm: undefined,
    },
    summary: `summary of ${name} <fused>`,
    epochs,
    trainAccuracy: train,
    trainLoss: 0.2,
    testAccuracy: test,
    testLoss: 0.3,
    secondsPerEpoch: 1,
    examplesPerSecond: 1000,
    entropyAuroc: 0.8,
  })
  const result: SeedResult = {
    seed: 1,
    dropout: run('dropout', 0.9, 0.88),
    baseline: run('baseline', 0.99, 0.86),
    mc: {
      samples: 5,
      weightScalingAccuracy: 0.88,
      mcAccuracy: 0.879,
      accuracyByPasses: [0.85, 0.87, 0.875, 0.878, 0.879],
      mcEntropyAuroc: 0.85,
      weightScalingEntropyAuroc: 0.84,
      entropyRight: [0.1, 0.2, 0.3],
      entropyWrong: [1.1, 1.5],
      seconds: 1,
    },
  }
  const context = {
    backend: 'native',
    isa: 'avx512',
    data: 'Fashion-MNIST subset (3000 train / 5000 test, /home/someone/thinnet/packages/fashion-mnist-subset)',
    dataName: 'Fashion-MNIST subset (3000 train / 5000 test)',
    load: '1-minute load average 0.42 on 2 cores when training ended',
    lr: 0.001,
    schedule: 'cosine' as const,
    batchSize: 128,
    epochs: 3,
    totalSeconds: 12,
  }

  it('is one static file: inline SVG plots, no script, no external resource', () => {
    const html = renderReport({ results: [result, { ...result, seed: 2 }], context, entropyBins: 10, date: '2026-01-01T00:00:00Z' })
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).not.toMatch(/<script|<link|<img|<iframe|url\(|@import/i)
    expect(html).not.toMatch(/(src|href)=/i)
    // Learning curves (accuracy, loss), MC accuracy against T, entropy histograms.
    expect(html.match(/<svg /g)?.length).toBe(4)
    expect(html).toContain('weight scaling')
    expect(html).toContain('Per seed')
    // Text from the results is escaped.
    expect(html).toContain('summary of dropout &lt;fused&gt;')
    expect(html).not.toContain('<fused>')
    // No path of the machine that ran it; its load beside the throughput.
    expect(html).not.toContain('/home/someone')
    expect(html).toContain('Fashion-MNIST subset (3000 train / 5000 test)')
    expect(html).toMatch(/Throughput is the machine's: 1-minute load average 0\.42 on 2 cores/)
    // Charts keep their size on a narrow screen (text stays readable) and scroll sideways.
    expect(html).toContain('.charts > svg { flex: none; } .charts { overflow-x: auto; }')
  })

  it('labels the first and the last epoch and keeps the curves off the axes', () => {
    const points = Array.from({ length: 70 }, (_, i) => [i + 1, 1 / (i + 1)] as [number, number])
    const svg = lineChart({ title: 't', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'a', color: '#000', points }] })
    const ticks = [...svg.matchAll(/text-anchor="middle" fill="#444">(\d+)<\/text>/g)].map((m) => Number(m[1]))
    expect(ticks[0]).toBe(1)
    expect(ticks.at(-1)).toBe(70)
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b))
    const start = /<path d="M([\d.]+) /.exec(svg)
    expect(Number(start?.[1])).toBeGreaterThan(64 + 5)
  })
})
