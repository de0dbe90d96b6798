/**
 * The `thinnet` command as a user runs it: the built CLI (dist/cli/main.js, from `npm run
 * build:ts`) in a child process; train and eval once per backend (--backend), and the demo once
 * with a tiny MLP and few epochs (its numbers checked for consistency, never for their values).
 * Small models only, so each case takes a few seconds. The HTML report is also checked apart,
 * from synthetic results, without training.
 */

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO } from '../ts/cli/demo-config.js'
import { FASHION_MNIST_DEBIAN_DIR } from '../ts/data/fashion-mnist.js'
import type { SeedResult } from '../ts/cli/demo-run.js'
import { mcVerdict, uncertaintyRows } from '../ts/cli/demo-summary.js'
import { calibration } from '../ts/cli/metrics.js'
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

/** The reliability diagrams of a report: their titles and, per bar, the count, mean confidence and accuracy of its bin. */
function reliabilityDiagrams(html: string): { title: string; bins: { count: number; confidence: number; accuracy: number }[] }[] {
  return [...html.matchAll(/<svg [^>]*aria-label="(Reliability, [^"]*)"[^>]*>(.*?)<\/svg>/g)].map((m) => ({
    title: m[1],
    bins: [
      ...m[2].matchAll(
        /<rect class="bin" data-count="(\d+)"[^>]*><title>confidence [[(][\d.]+, [\d.]+\]: \d+ predictions?, mean confidence ([\d.]+), accuracy ([\d.]+)<\/title><\/rect>/g,
      ),
    ].map((b) => ({ count: Number(b[1]), confidence: Number(b[2]), accuracy: Number(b[3]) })),
  }))
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
    for (const command of ['demo', 'train', 'eval', 'sweep', 'backends']) expect(r.stdout).toContain(command)
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
    expect(demo.stdout).toContain('--draws <k>')
    const sweep = await thinnet('sweep', '--help')
    expect(sweep.code).toBe(0)
    for (const flag of [
      '--input-dropout',
      '--dropout',
      '--epochs',
      '--validation-split',
      '--seeds',
      '--hidden',
      '--lr',
      '--data',
      '--backend',
    ])
      expect(sweep.stdout).toContain(flag)
    // commander wraps long lines: whitespace may break a default.
    const help = sweep.stdout.replace(/\s+/g, ' ')
    expect(help).toContain('input dropout rates to try, comma-separated (default: 0.1,0.2,0.35,0.5)')
    expect(help).toContain(`epoch counts to try, comma-separated (the cosine schedule anneals over each) (default: ${DEMO.epochs})`)
  })
})

/** Writes the four IDX files (plain) of a tiny Fashion-MNIST-shaped set: 28x28 uint8 images, uint8 labels. */
async function writeIdxSet(folder: string, splits: Record<'train' | 't10k', { images: Uint8Array; labels: Uint8Array }>): Promise<void> {
  await mkdir(folder, { recursive: true })
  for (const [prefix, { images, labels }] of Object.entries(splits)) {
    const n = labels.length
    const imageHeader = Buffer.alloc(16)
    imageHeader.set([0, 0, 8, 3])
    imageHeader.writeUInt32BE(n, 4)
    imageHeader.writeUInt32BE(28, 8)
    imageHeader.writeUInt32BE(28, 12)
    await writeFile(join(folder, `${prefix}-images-idx3-ubyte`), Buffer.concat([imageHeader, images]))
    const labelHeader = Buffer.alloc(8)
    labelHeader.set([0, 0, 8, 1])
    labelHeader.writeUInt32BE(n, 4)
    await writeFile(join(folder, `${prefix}-labels-idx1-ubyte`), Buffer.concat([labelHeader, labels]))
  }
}

/** n images of class i mod 10: a bright band in row block (class) plus seeded noise. */
function tinyImages(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  let state = seed >>> 0
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10)
  const images = new Uint8Array(n * 784)
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 784; p++) {
      const band = Math.floor(Math.floor(p / 28) / 2.8) === labels[i]
      images[i * 784 + p] = Math.min(255, Math.floor((band ? 150 : 0) + 100 * next()))
    }
  }
  return { images, labels }
}

describe('thinnet sweep, tiny runs', () => {
  const args = ['--hidden', '8', '--epochs', '2', '--seeds', '2', '--input-dropout', '0.1,0.3', '--dropout', '0.5', '--quiet']
  let real: Run
  let garbage: Run

  beforeAll(async () => {
    const train = tinyImages(300, 1)
    const realDir = join(dir!, 'sweep-real')
    const garbageDir = join(dir!, 'sweep-garbage')
    await writeIdxSet(realDir, { train, t10k: tinyImages(100, 2) })
    // The same training set; the test set is noise with shuffled labels, and of another size.
    const noise = tinyImages(70, 3)
    noise.images.reverse()
    noise.labels.reverse()
    noise.labels.set(noise.labels.map((l) => (l * 3 + 7) % 10))
    await writeIdxSet(garbageDir, { train, t10k: noise })
    ;[real, garbage] = await Promise.all([thinnet('sweep', '--data', realDir, ...args), thinnet('sweep', '--data', garbageDir, ...args)])
  })

  /** The output from the validation table to the line after the choice, timings removed. */
  const selection = (stdout: string): string =>
    stdout.slice(stdout.indexOf('Validation accuracy'), stdout.indexOf('\ntest ')).replace(/\([\d.]+ s\)/g, '(time)')

  it('prints the validation table of every setting, the chosen one and one test number', () => {
    expect(real.stderr).toBe('')
    expect(real.code).toBe(0)
    expect(real.stdout).toMatch(/^input +hidden +epochs +val acc seed 1 +val acc seed 2 +mean val acc +mean val loss$/m)
    const rows = real.stdout.match(/^0\.[13] +0\.5 +2 +\d+\.\d\d% +\d+\.\d\d% +\d+\.\d\d% +\d\.\d{4}( +<- chosen)?$/gm) ?? []
    expect(rows).toHaveLength(2)
    expect(rows.filter((r) => r.endsWith('<- chosen'))).toHaveLength(1)
    // Each mean is the mean of its two seeds, as printed (to the printed rounding).
    for (const row of rows) {
      const [a, b, m] = [...row.matchAll(/(\d+\.\d\d)%/g)].map((x) => Number(x[1]))
      expect(Math.abs((a + b) / 2 - m)).toBeLessThanOrEqual(0.006)
    }
    expect(real.stdout).toMatch(/^chosen +input dropout 0\.[13], hidden dropout 0\.5, 2 epochs: the highest mean validation accuracy/m)
    expect(real.stdout).toContain('(trained on 240, validated on 60 examples per seed)')
    expect(real.stdout.match(/^test +accuracy \d+\.\d\d% \(loss \d+\.\d{4}, 100 examples\): the only test number/gm)).toHaveLength(1)
    expect(real.stdout.match(/%/g)?.length).toBeGreaterThan(0)
  })

  it("retrains the chosen setting as the demo trains its dropout model: the test number is the demo's for seed 1", async () => {
    const same = ['--input-dropout', '0.2', '--dropout', '0.5', '--hidden', '16', '--epochs', '3', '--quiet']
    const [sweep, demo] = await Promise.all([
      thinnet('sweep', ...same, '--seeds', '1'),
      thinnet('demo', ...same, '--report', join(dir!, 'sweep-demo-report.html')),
    ])
    expect(sweep.code).toBe(0)
    expect(demo.code).toBe(0)
    const demoTest = /^test accuracy \(weight scaling\) +(\d+\.\d\d)% /m.exec(demo.stdout)?.[1]
    expect(demoTest).toBeDefined()
    expect(percentAfter(sweep.stdout, 'test {7}accuracy')).toBe(Number(demoTest) / 100)
  })

  it('chooses the same setting with the same validation numbers when the test set is garbage', () => {
    expect(garbage.stderr).toBe('')
    expect(garbage.code).toBe(0)
    expect(selection(real.stdout).length).toBeGreaterThan(200)
    expect(selection(garbage.stdout)).toBe(selection(real.stdout))
    expect(garbage.stdout).toMatch(/^test +accuracy \d+\.\d\d% \(loss \d+\.\d{4}, 70 examples\)/m)
  })
})

const hasFullSet = existsSync(FASHION_MNIST_DEBIAN_DIR)
const fullSetSkip = hasFullSet ? '' : ` [SKIPPED: ${FASHION_MNIST_DEBIAN_DIR} is missing; as root: apt-get install dataset-fashion-mnist]`

describe('thinnet demo --draws, a tiny run', () => {
  it.skipIf(!hasFullSet)(`reports every run, each draw's mean and the 95% t interval over the draws${fullSetSkip}`, async () => {
    const report = join(dir!, 'draws-report.html')
    const r = await thinnet('demo', '--draws', '2', '--seeds', '2', '--epochs', '1', '--hidden', '8', '--quiet', '--report', report)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('2 draws (draws 1..2) of a Fashion-MNIST subset (3000 train / 5000 test, stratified)')
    const runs = [
      ...r.stdout.matchAll(/^([12]) +([12]) +(\d+\.\d\d)% +(\d+\.\d\d)% +([+-]\d+\.\d\d) +(-?\d+\.\d\d) +(-?\d+\.\d\d) +(-?\d+\.\d{3})$/gm),
    ].map((m) => m.slice(1).map(Number))
    expect(runs.map(([draw, seed]) => `${draw}/${seed}`)).toEqual(['1/1', '1/2', '2/1', '2/2'])
    // gain = dropout test - no-dropout test, to the printed rounding.
    for (const [, , d, b, gain] of runs) expect(Math.abs(d - b - gain)).toBeLessThanOrEqual(0.011)
    const mean = /^mean +([+-]\d+\.\d\d) +(-?\d+\.\d{3})$/m.exec(r.stdout)
    expect(mean).not.toBeNull()
    expect(Math.abs(runs.reduce((s, x) => s + x[4], 0) / 4 - Number(mean![1]))).toBeLessThanOrEqual(0.011)
    expect(r.stdout).toMatch(/^95% t interval +\[[+-]\d+\.\d\d, [+-]\d+\.\d\d\] +\[-?\d+\.\d{3}, -?\d+\.\d{3}\]$/m)
    expect(r.stdout).toContain("95% t intervals over the 2 draws (each draw's value is the mean over its 2 seeds")
    expect(r.stdout).toContain('t(1) = 12.706')
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
    // The expected calibration error (15 bins) of the same predictions, a number in [0, 1].
    const ece = Number(/ {2}ECE (\d\.\d{3}) {2}\(5,000 examples\)$/m.exec(r.stdout)?.[1])
    expect(ece).toBeGreaterThanOrEqual(0)
    expect(ece).toBeLessThanOrEqual(1)
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
    expect(r.stdout).toMatch(/^Monte Carlo \(T = 4\): loss \d+\.\d{4} {2}accuracy \d+\.\d\d% {2}ECE [01]\.\d{3} {2}\(/m)
    expect(r.stdout).toMatch(/entropy AUROC, wrong vs right predictions: 0\.\d{3}/)
  })
})

describe('thinnet demo, a tiny run', () => {
  let demo: Run
  let html: string

  beforeAll(async () => {
    const report = join(dir!, 'demo-report.html')
    demo = await thinnet('demo', '--epochs', '2', '--hidden', '16', '--quiet', '--report', report)
    html = demo.code === 0 ? await readFile(report, 'utf8') : ''
  })

  /** The uncertainty table's row of a predictor: test accuracy, entropy AUROC, ECE. */
  function row(name: string): { accuracy: number; auroc: number; ece: number } {
    const match = new RegExp(`^${name.replace(/[()]/g, '\\$&')} +(\\d+\\.\\d\\d)% +(\\d\\.\\d{3}) +(\\d\\.\\d{3})$`, 'm').exec(demo.stdout)
    if (match === null) throw new Error(`no uncertainty row "${name}" in:\n${demo.stdout}`)
    return { accuracy: Number(match[1]) / 100, auroc: Number(match[2]), ece: Number(match[3]) }
  }

  it('prints ECE beside the entropy AUROC for no dropout, weight scaling and Monte Carlo, each in [0, 1]', () => {
    expect(demo.stderr).toBe('')
    expect(demo.code).toBe(0)
    expect(demo.stdout).toMatch(/^test set +accuracy +entropy AUROC +ECE \(15 bins\)$/m)
    const rows = [row('no dropout'), row('dropout, weight scaling'), row('dropout, Monte Carlo (T = 50)')]
    for (const r of rows) {
      for (const x of [r.accuracy, r.auroc, r.ece]) {
        expect(x).toBeGreaterThanOrEqual(0)
        expect(x).toBeLessThanOrEqual(1)
      }
    }
    // The accuracies are the ones the other tables print.
    expect(rows[1].accuracy).toBe(percentAfter(demo.stdout, 'test accuracy \\(weight scaling\\) +'))
    expect(rows[2].accuracy).toBe(percentAfter(demo.stdout, 'accuracy, Monte Carlo \\(T = 50\\) +'))
  })

  it('says which way Monte Carlo went on each metric, consistently with the table', () => {
    expect(demo.code).toBe(0)
    const ws = row('dropout, weight scaling')
    const none = row('no dropout')
    const mc = row('dropout, Monte Carlo (T = 50)')
    const sentence: string[] = []
    for (const [name, other] of [
      ['weight scaling', ws],
      ['no dropout', none],
    ] as const) {
      const line = new RegExp(`^Monte Carlo dropout against ${name}: (.*)$`, 'm').exec(demo.stdout)?.[1]
      expect(line, demo.stdout).toBeDefined()
      const outcomes: Record<string, string[]> = {}
      for (const [metric, key, higherIsBetter, unit] of [
        ['accuracy', 'accuracy', true, 10_000],
        ['entropy AUROC', 'auroc', true, 1000],
        ['ECE', 'ece', false, 1000],
      ] as const) {
        const a = mc[key]
        const b = other[key]
        const shown = (x: number) => (key === 'accuracy' ? `${(100 * x).toFixed(2)}%` : x.toFixed(3))
        const steps = Math.round(a * unit) - Math.round(b * unit)
        const outcome = steps === 0 ? 'the same' : steps > 0 === higherIsBetter ? 'better' : 'worse'
        expect(line).toContain(`${metric} ${shown(a)} vs ${shown(b)} (`)
        expect(line).toMatch(new RegExp(`${metric} [^;]*[(, ]${outcome}\\)`))
        ;(outcomes[outcome] ??= []).push(metric)
      }
      sentence.push(
        (['better', 'worse', 'the same'] as const)
          .filter((k) => k in outcomes)
          .map((k, i) => {
            const metrics = outcomes[k]
            const list = metrics.length === 1 ? metrics[0] : `${metrics.slice(0, -1).join(', ')} and ${metrics.at(-1)}`
            return `${k}${i === 0 ? ` ${k === 'the same' ? 'as' : 'than'} ${name}` : ''} on ${list}`
          })
          .join(', '),
      )
    }
    expect(demo.stdout).toContain(`In this run, Monte Carlo dropout is ${sentence.join('; and ')}.`)
  })

  it('writes a reliability diagram of each predictor whose bins hold every test example and give its ECE', () => {
    expect(demo.code).toBe(0)
    const examples = Number(/(\d+) test\b/.exec(demo.stdout)?.[1])
    expect(examples).toBe(5000)
    const diagrams = reliabilityDiagrams(html)
    const names: [string, string][] = [
      ['no dropout', 'no dropout'],
      ['weight scaling', 'dropout, weight scaling'],
      ['MC (T = 50)', 'dropout, Monte Carlo (T = 50)'],
    ]
    expect(diagrams.map((d) => d.title)).toEqual(names.map(([short, long]) => `Reliability, ${short}: ECE ${row(long).ece.toFixed(3)}`))
    for (const [i, d] of diagrams.entries()) {
      expect(d.bins.reduce((n, b) => n + b.count, 0)).toBe(examples)
      for (const b of d.bins) {
        expect(b.count).toBeGreaterThan(0)
        expect(b.confidence).toBeGreaterThanOrEqual(0)
        expect(b.confidence).toBeLessThanOrEqual(1)
        expect(b.accuracy).toBeGreaterThanOrEqual(0)
        expect(b.accuracy).toBeLessThanOrEqual(1)
      }
      // The ECE from the bars (confidence and accuracy shown to 3 decimals) is the printed one.
      const ece = d.bins.reduce((e, b) => e + (b.count / examples) * Math.abs(b.accuracy - b.confidence), 0)
      expect(Math.abs(ece - row(names[i][1]).ece)).toBeLessThanOrEqual(0.0011)
    }
    expect(html).toContain('<h2>Uncertainty and calibration</h2>')
    expect(html).toContain(
      `<tr><td>all</td><td>5,000</td><td></td><td></td><td>5,000</td><td></td><td></td><td>5,000</td><td></td><td></td></tr>`,
    )
  })
})

describe('thinnet train --validation-split and --recipe, tiny runs', () => {
  const args = ['--recipe', 'paper', '--layers', '8', '--epochs', '4', '--validation-split', '0.2', '--quiet']
  let real: Run
  let garbage: Run

  beforeAll(async () => {
    const train = tinyImages(300, 4)
    const realDir = join(dir!, 'choose-real')
    const garbageDir = join(dir!, 'choose-garbage')
    await writeIdxSet(realDir, { train, t10k: tinyImages(100, 5) })
    const noise = tinyImages(60, 6)
    noise.images.reverse()
    noise.labels.set(noise.labels.map((l) => (l * 7 + 3) % 10))
    await writeIdxSet(garbageDir, { train, t10k: noise })
    ;[real, garbage] = await Promise.all([thinnet('train', '--data', realDir, ...args), thinnet('train', '--data', garbageDir, ...args)])
  })

  /** From the choosing line to the chosen line, timings and speeds removed. */
  const selection = (stdout: string): string =>
    stdout
      .slice(stdout.indexOf('choosing'), stdout.indexOf('\n', stdout.indexOf('chosen ')))
      .replace(/\d+(\.\d+)? (s|ms)\b/g, '(time)')
      .replace(/[\d,]+ ex\/s/g, '(speed)')

  it('applies the paper recipe under the flags given, and chooses the epoch count of the best validation accuracy', () => {
    expect(real.stderr).toBe('')
    expect(real.code).toBe(0)
    expect(real.stdout).toContain('784-8-10 relu, dropout 0.2 input / 0.5 hidden, max-norm 3.5')
    expect(real.stdout).toContain('recipe paper')
    expect(real.stdout).toMatch(/momentum lr 0\.01, momentum 0\.95, max-norm 3\.5, step schedule x0\.99 every 1 epoch/)
    const accs = [...real.stdout.matchAll(/^epoch +(\d)\/4 .* val acc (\d+\.\d\d)%/gm)].map((m) => Number(m[2]))
    expect(accs).toHaveLength(4)
    const chosen = Number(/^chosen +(\d) epochs?/m.exec(real.stdout)?.[1])
    // The first epoch with the highest printed accuracy (ties at this rounding go to the lower loss, so allow any maximum).
    expect(accs[chosen - 1]).toBe(Math.max(...accs))
    expect(real.stdout).toContain('retraining on all 300 training images')
    // The final run trains the chosen count and prints no per-epoch test numbers: the test set is read once.
    const finalLines = real.stdout
      .split('\n')
      .filter((line) => new RegExp(`^epoch +\\d/${chosen} `).test(line) && !line.includes('val acc'))
    expect(finalLines).toHaveLength(chosen)
    expect(real.stdout).not.toMatch(/test acc \d/)
    expect(real.stdout.match(/test accuracy/g)).toHaveLength(1)
  })

  it('chooses the same epochs with the same validation numbers when the test set is garbage', () => {
    expect(garbage.code).toBe(0)
    expect(selection(real.stdout).length).toBeGreaterThan(200)
    expect(selection(garbage.stdout)).toBe(selection(real.stdout))
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
    [['train', '--recipe', 'keras'], '--recipe'],
    [['train', '--validation-split', '1.5'], '--validation-split'],
    [['train', '--validation-split', '0.2', '--schedule', 'cosine'], '--schedule cosine'],
    [['train', '--validation-split', '0.2', '--schedule', 'step'], '--step-every'],
    [['eval'], '--model'],
    [['eval', '--model', 'm', '--inference', 'exact'], '--inference'],
    [['eval', '--model', 'm', '--samples', '5'], '--samples'],
    [['demo', '--seeds', '-1'], '--seeds'],
    [['demo', '--draws', '0'], '--draws'],
    [['sweep', '--input-dropout', '0.2,1.2'], '--input-dropout'],
    [['sweep', '--dropout', '0.5,0.5'], '--dropout'],
    [['sweep', '--epochs', '0'], '--epochs'],
    [['sweep', '--validation-split', '1'], '--validation-split'],
    [['sweep', '--seeds', '0'], '--seeds'],
    [['sweep', '--data', '/no/such/folder'], '--data /no/such/folder'],
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
  // Five test predictions over three classes, scored three ways (made up, not a model's).
  const labels = new Uint8Array([0, 1, 2, 0, 1])
  // prettier-ignore
  const baselineCalibration = calibration([0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.7, 0.2, 0.1, 0.95, 0.05, 0, 0.6, 0.3, 0.1], labels, 3)
  // prettier-ignore
  const weightScalingCalibration = calibration([0.7, 0.2, 0.1, 0.2, 0.6, 0.2, 0.3, 0.3, 0.4, 0.8, 0.1, 0.1, 0.5, 0.4, 0.1], labels, 3)
  // prettier-ignore
  const mcCalibration = calibration([0.6, 0.3, 0.1, 0.25, 0.5, 0.25, 0.3, 0.3, 0.4, 0.7, 0.2, 0.1, 0.45, 0.45, 0.1], labels, 3)
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
    calibration: name === 'dropout' ? weightScalingCalibration : baselineCalibration,
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
      mcCalibration,
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
    // Learning curves (accuracy, loss), MC accuracy against T, entropy histograms, three reliability diagrams.
    expect(html.match(/<svg /g)?.length).toBe(7)
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

  it('shows ECE beside the entropy AUROC for the three predictors, where Monte Carlo helps, and a reliability diagram of each', () => {
    const results = [result, { ...result, seed: 2 }]
    const html = renderReport({ results, context, entropyBins: 10, date: '2026-01-01T00:00:00Z' })
    expect(html).toContain('<h2>Uncertainty and calibration</h2>')
    expect(html).toContain('<th>entropy AUROC</th><th>ECE (15 bins)</th>')
    // Two identical seeds: mean ± 0 of each predictor's ECE, in the table the terminal prints too.
    const rows = uncertaintyRows(results)
    expect(rows.map((r) => r[0])).toEqual(['test set', 'no dropout', 'dropout, weight scaling', 'dropout, Monte Carlo (T = 5)'])
    const eces = [baselineCalibration, weightScalingCalibration, mcCalibration].map((c) => c.ece)
    eces.forEach((ece, i) => {
      expect(ece).toBeGreaterThanOrEqual(0)
      expect(ece).toBeLessThanOrEqual(1)
      expect(rows[i + 1][3]).toBe(`${ece.toFixed(3)} ± 0.000`)
      expect(html).toContain(`<td>${ece.toFixed(3)} ± 0.000</td>`)
    })
    for (const line of mcVerdict(results)) expect(html).toContain(line)
    // The diagrams pool the seeds: 2 x 5 predictions each, in the same bins, with the same ECE.
    const diagrams = reliabilityDiagrams(html)
    expect(diagrams.map((d) => d.title)).toEqual(
      ['no dropout', 'weight scaling', 'MC (T = 5)'].map((name, i) => `Reliability, ${name}: ECE ${eces[i].toFixed(3)}`),
    )
    const calibrations = [baselineCalibration, weightScalingCalibration, mcCalibration]
    diagrams.forEach((d, i) => {
      expect(d.bins.reduce((n, b) => n + b.count, 0)).toBe(10)
      expect(d.bins.map((b) => b.count)).toEqual(calibrations[i].bins.filter((b) => b.count > 0).map((b) => 2 * b.count))
      // The ECE again from the bars (their confidence and accuracy are shown to 3 decimals).
      const ece = d.bins.reduce((e, b) => e + (b.count / 10) * Math.abs(b.accuracy - b.confidence), 0)
      expect(Math.abs(ece - eces[i])).toBeLessThanOrEqual(0.0011)
    })
    // The per-bin table counts every prediction of each predictor.
    expect(html).toContain('<tr><td>all</td><td>10</td><td></td><td></td><td>10</td><td></td><td></td><td>10</td><td></td><td></td></tr>')
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

describe('where Monte Carlo dropout helps (mcVerdict)', () => {
  interface Scores {
    accuracy: number
    auroc: number
    ece: number
  }
  const cal = calibration([0.75, 0.25], new Uint8Array([0]), 2)
  /** A seed's result with these test scores for no dropout, weight scaling and Monte Carlo (the rest is not read). */
  function seed(n: number, baseline: Scores, weightScaling: Scores, mc: Scores): SeedResult {
    const run = (s: Scores) => ({ testAccuracy: s.accuracy, entropyAuroc: s.auroc, calibration: { ...cal, ece: s.ece } })
    return {
      seed: n,
      baseline: run(baseline),
      dropout: run(weightScaling),
      mc: {
        samples: 50,
        weightScalingEntropyAuroc: weightScaling.auroc,
        mcAccuracy: mc.accuracy,
        mcEntropyAuroc: mc.auroc,
        mcCalibration: { ...cal, ece: mc.ece },
      },
    } as unknown as SeedResult
  }

  it('says, from the numbers, which way each metric went against weight scaling and against no dropout', () => {
    const lines = mcVerdict([
      seed(
        1,
        { accuracy: 0.86, auroc: 0.86, ece: 0.0201 },
        { accuracy: 0.88, auroc: 0.84, ece: 0.05 },
        { accuracy: 0.879, auroc: 0.85, ece: 0.02 },
      ),
    ])
    expect(lines).toEqual([
      'Monte Carlo dropout against weight scaling: accuracy 87.90% vs 88.00% (-0.10 pts, worse); entropy AUROC 0.850 vs 0.840 (+0.010, better); ECE 0.020 vs 0.050 (-0.030, better)',
      'Monte Carlo dropout against no dropout: accuracy 87.90% vs 86.00% (+1.90 pts, better); entropy AUROC 0.850 vs 0.860 (-0.010, worse); ECE 0.020 vs 0.020 (the same)',
      'In this run, Monte Carlo dropout is better than weight scaling on entropy AUROC and ECE, worse on accuracy; and better than no dropout on accuracy, worse on entropy AUROC, the same on ECE.',
    ])
  })

  it('turns with the numbers: a higher ECE is worse, a lower AUROC is worse', () => {
    const lines = mcVerdict([
      seed(1, { accuracy: 0.8, auroc: 0.9, ece: 0.01 }, { accuracy: 0.8, auroc: 0.9, ece: 0.01 }, { accuracy: 0.7, auroc: 0.8, ece: 0.1 }),
    ])
    expect(lines[2]).toBe(
      'In this run, Monte Carlo dropout is worse than weight scaling on accuracy, entropy AUROC and ECE; and worse than no dropout on accuracy, entropy AUROC and ECE.',
    )
  })

  it('over several seeds compares the means and counts the seeds where Monte Carlo was better', () => {
    const base = { accuracy: 0.8, auroc: 0.8, ece: 0.05 }
    const lines = mcVerdict([
      seed(1, base, base, { accuracy: 0.81, auroc: 0.79, ece: 0.04 }),
      seed(2, base, base, { accuracy: 0.79, auroc: 0.83, ece: 0.03 }),
    ])
    expect(lines[0]).toBe(
      'Monte Carlo dropout against weight scaling: accuracy 80.00% vs 80.00% (the same; better on 1 of 2 seeds); ' +
        'entropy AUROC 0.810 vs 0.800 (+0.010, better; better on 1 of 2 seeds); ECE 0.035 vs 0.050 (-0.015, better; better on 2 of 2 seeds)',
    )
    expect(lines[2]).toMatch(
      /^Over seeds 1-2 \(means\), Monte Carlo dropout is better than weight scaling on entropy AUROC and ECE, the same on accuracy; /,
    )
  })

  it('does not compare an AUROC that does not exist (every prediction right)', () => {
    const lines = mcVerdict([
      seed(1, { accuracy: 1, auroc: NaN, ece: 0.01 }, { accuracy: 1, auroc: NaN, ece: 0.02 }, { accuracy: 1, auroc: NaN, ece: 0.03 }),
    ])
    expect(lines[0]).toBe(
      'Monte Carlo dropout against weight scaling: accuracy 100.00% vs 100.00% (the same); entropy AUROC n/a vs n/a (not comparable); ECE 0.030 vs 0.020 (+0.010, worse)',
    )
    expect(lines[2]).toBe(
      'In this run, Monte Carlo dropout is worse than weight scaling on ECE, the same on accuracy, not comparable on entropy AUROC; and worse than no dropout on ECE, the same on accuracy, not comparable on entropy AUROC.',
    )
  })
})
