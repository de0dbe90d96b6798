/**
 * The model layer's public entry points read each option once, up front (issue 11, item 7: a
 * getter must not run between a check and the use of its value, nor after an array was checked).
 * Each options object is a Proxy that counts [[Get]] per key: every key is read at most once, and
 * a throwing getter becomes ERR_INVALID_ARG naming the option, with the error as its cause. The
 * layers and models run on the reference port (test/reference-ops.ts): this is about TypeScript.
 */

import { describe, expect, it } from 'vitest'
import { DropoutDense } from '../ts/layers/dropout-dense.js'
import { dense, dropout } from '../ts/model/layers.js'
import { adam, adamw, sgd } from '../ts/model/optimizers.js'
import { constant, cosine, linear, step } from '../ts/model/schedules.js'
import { Sequential } from '../ts/model/sequential.js'
import { ThinnetError } from '../ts/errors.js'
import { referenceOps } from './reference-ops.js'

/** `target` behind a Proxy that counts reads of each key; `throwOn` makes that key's read throw. */
function counted<T extends object>(target: T, throwOn?: string): { value: T; reads: Map<string, number> } {
  const reads = new Map<string, number>()
  const value = new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === 'string') {
        reads.set(key, (reads.get(key) ?? 0) + 1)
        if (key === throwOn) throw new Error('getter failed')
      }
      return Reflect.get(t, key, receiver) as unknown
    },
  })
  return { value, reads }
}

function expectEachReadOnce(reads: Map<string, number>, keys: readonly string[]): void {
  for (const key of keys) expect(reads.get(key), key).toBe(1)
}

async function expectGetterError(run: () => unknown, key: string): Promise<void> {
  let caught: unknown
  try {
    await run()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(ThinnetError)
  expect((caught as ThinnetError).code).toBe('ERR_INVALID_ARG')
  expect((caught as ThinnetError).message).toContain(key)
  expect((caught as ThinnetError).cause).toBeInstanceOf(Error)
}

const LAYER = {
  inputs: 3,
  units: 2,
  activation: 'relu',
  alpha: 0.02,
  inputDropout: 0.1,
  outputDropout: 0.2,
  mode: 'classic',
  seed: 1n,
  stream: 2n,
}

interface Case {
  name: string
  options: () => object
  keys: readonly string[]
  call: (options: never) => unknown
}

const ops = referenceOps()
const layer = () => new DropoutDense(ops, { inputs: 3, units: 2, inputDropout: 0.5, seed: 1n })
const model = () =>
  new Sequential(ops, [dense({ units: 4, activation: 'relu' }), dropout({ rate: 0.5 }), dense({ units: 2 })], { inputs: 3, seed: 1n })
const x = new Float32Array(6).fill(0.5)
const y = new Uint8Array([0, 1])

const CASES: Case[] = [
  { name: 'new DropoutDense', options: () => ({ ...LAYER }), keys: Object.keys(LAYER), call: (o) => new DropoutDense(ops, o).dispose() },
  {
    name: 'DropoutDense nested dropout',
    options: () => ({ p: 0.3, mode: 'inverted' }),
    keys: ['p', 'mode'],
    call: (o) => new DropoutDense(ops, { inputs: 1, units: 1, seed: 1n, outputDropout: o }).dispose(),
  },
  { name: 'forward', options: () => ({ training: true }), keys: ['training'], call: (o) => layer().forward(x, o) },
  { name: 'sample', options: () => ({ seed: 1n, offset: 8n }), keys: ['seed', 'offset'], call: (o) => layer().sample(x, o) },
  {
    name: 'setRates',
    options: () => ({ inputDropout: 0.2, outputDropout: 0.1, dropConnect: 0.3 }),
    keys: ['inputDropout', 'outputDropout', 'dropConnect'],
    call: (o) => layer().setRates(o),
  },
  {
    name: 'seek',
    options: () => ({ input: 1n, output: 2n, dropConnect: 3n }),
    keys: ['input', 'output', 'dropConnect'],
    call: (o) => layer().seek(o),
  },
  {
    name: 'backward',
    options: () => ({ dx: false }),
    keys: ['dx'],
    call: (o) => {
      const l = layer()
      l.forward(x, { training: true })
      l.backward(new Float32Array(4), o)
    },
  },
  {
    name: 'layers.dense',
    options: () => ({ units: 3, activation: 'relu', alpha: 0.1, init: 'heNormal', maxNorm: 2, dropConnect: 0.1 }),
    keys: ['units', 'activation', 'alpha', 'init', 'maxNorm', 'dropConnect'],
    call: (o) => dense(o),
  },
  { name: 'layers.dropout', options: () => ({ rate: 0.5, mode: 'classic' }), keys: ['rate', 'mode'], call: (o) => dropout(o) },
  {
    name: 'optimizers.sgd',
    options: () => ({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    keys: ['lr', 'momentum', 'nesterov', 'weightDecay'],
    call: (o) => sgd(o),
  },
  {
    name: 'optimizers.adam',
    options: () => ({ lr: 0.1, beta1: 0.8, beta2: 0.9, epsilon: 1e-6, weightDecay: 0.01 }),
    keys: ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay'],
    call: (o) => adam(o),
  },
  { name: 'optimizers.adamw', options: () => ({ lr: 0.1, weightDecay: 0.01 }), keys: ['lr', 'weightDecay'], call: (o) => adamw(o) },
  { name: 'schedules.constant', options: () => ({ value: 0.1 }), keys: ['value'], call: (o) => constant(o) },
  {
    name: 'schedules.step',
    options: () => ({ initial: 0.1, every: 2, factor: 0.5 }),
    keys: ['initial', 'every', 'factor'],
    call: (o) => step(o),
  },
  {
    name: 'schedules.cosine',
    options: () => ({ initial: 0.1, epochs: 4, min: 0.01 }),
    keys: ['initial', 'epochs', 'min'],
    call: (o) => cosine(o),
  },
  { name: 'schedules.linear', options: () => ({ from: 0, to: 1, epochs: 4 }), keys: ['from', 'to', 'epochs'], call: (o) => linear(o) },
  {
    name: 'new Sequential',
    options: () => ({ inputs: 3, seed: 1n, mode: 'classic', loss: 'mse' }),
    keys: ['inputs', 'seed', 'mode', 'loss'],
    call: (o) => new Sequential(ops, [dense({ units: 2 })], o).dispose(),
  },
  {
    name: 'fit',
    options: () => ({ x, y, epochs: 1, batchSize: 2, optimizer: sgd({ lr: 0.1 }), shuffle: true }),
    keys: ['x', 'y', 'epochs', 'batchSize', 'optimizer', 'shuffle'],
    call: (o) => model().fit(o),
  },
  { name: 'fit validation', options: () => ({ x, y }), keys: ['x', 'y'], call: (o) => model().fit({ x, y, validation: o }) },
  {
    name: 'predict',
    options: () => ({ inference: 'mc', samples: 2, batchSize: 1, seed: 3n, keepSamples: true }),
    keys: ['inference', 'samples', 'batchSize', 'seed', 'keepSamples'],
    call: (o) => model().predict(x, o),
  },
]

describe('options are read once', () => {
  it.each(CASES)('$name', async ({ options, keys, call }) => {
    const { value, reads } = counted(options())
    await call(value as never)
    expectEachReadOnce(reads, keys)
  })

  it.each(CASES)('$name: a throwing getter is ERR_INVALID_ARG', async ({ options, keys, call }) => {
    const { value } = counted(options(), keys[0])
    await expectGetterError(() => call(value as never), keys[0])
  })
})

describe('no getter runs after an array was checked', () => {
  it("fit reads validation's options before it checks x (a getter that detaches x is caught)", async () => {
    const m = model()
    const data = new Float32Array(6).fill(0.5)
    const validation = {
      get x() {
        structuredClone(data.buffer, { transfer: [data.buffer] }) // detaches fit's x
        return new Float32Array(6)
      },
      y,
    }
    let caught: unknown
    try {
      await m.fit({ x: data, y, validation })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ThinnetError)
    expect((caught as ThinnetError).code).toBe('ERR_INVALID_ARG')
    expect((caught as ThinnetError).message).toMatch(/^x is detached/)
    m.dispose()
  })
})
