/**
 * fit's callbacks under the Keras / TF.js names (issue 16): onBatchEnd and onEpochEnd beside
 * onBatch and onEpoch, callback objects that can stop training, and tn.callbacks.earlyStopping.
 */

import { describe, expect, it } from 'vitest'
import { callbacks, layers, type EpochLog, type FitCallback, type Sequential, type Thinnet } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

function small(tn: Thinnet, seed: bigint): Sequential {
  return tn.sequential([layers.dense({ units: 8, activation: 'relu' }), layers.dropout({ rate: 0.2 }), layers.dense({ units: 2 })], {
    inputs: 4,
    seed,
  })
}

function data(rows: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const next = rng(seed)
  const y = Uint8Array.from({ length: rows }, (_, i) => i % 2)
  const x = Float32Array.from({ length: rows * 4 }, (_, i) => (y[Math.floor(i / 4)] === 1 ? 1 : -1) + (next() / 2 ** 32 - 0.5))
  return { x, y }
}

/** The hook-level tests need no model (restoreBest is off). */
const NO_MODEL = null as unknown as Sequential

function log(epoch: number, values: Partial<EpochLog>): EpochLog {
  return {
    epoch,
    epochs: 10,
    loss: 1,
    accuracy: 0.5,
    valLoss: undefined,
    valAccuracy: undefined,
    lr: 0.001,
    dropoutFactor: 1,
    seconds: 0,
    examplesPerSecond: 0,
    ...values,
  }
}

describe('earlyStopping, hook by hook', () => {
  it('stops once `patience` epochs in a row brought no improvement, as Keras counts', () => {
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', patience: 2 })
    stop.onTrainBegin?.(NO_MODEL, { validation: true })
    const losses = [1.0, 0.8, 0.85, 0.8, 0.7]
    let e = 0
    for (; e < losses.length && !stop.stopTraining; e++) void stop.onEpochEnd?.(e, log(e + 1, { valLoss: losses[e] }))
    expect(stop.monitor).toBe('valLoss')
    expect(stop.stoppedEpoch).toBe(3)
    expect(e).toBe(4)
    expect(stop.best).toBe(0.8)
    expect(stop.bestEpoch).toBe(1)
  })

  it('watches accuracies upward, honours minDelta, and starts afresh on each fit', () => {
    const stop = callbacks.earlyStopping({ monitor: 'accuracy', minDelta: 0.05 })
    stop.onTrainBegin?.(NO_MODEL, { validation: false })
    void stop.onEpochEnd?.(0, log(1, { accuracy: 0.6 }))
    void stop.onEpochEnd?.(1, log(2, { accuracy: 0.64 }))
    expect(stop.stopTraining).toBe(true)
    expect(stop.best).toBe(0.6)
    stop.onTrainBegin?.(NO_MODEL, { validation: false })
    expect(stop.stopTraining).toBe(false)
    expect(stop.best).toBeUndefined()
  })

  it('refuses bad options by name', () => {
    expect(() => callbacks.earlyStopping({ monitor: 'valAcc' as never })).toThrow(/monitor must be one of 'valLoss'/)
    expect(() => callbacks.earlyStopping({ patience: -1 })).toThrow(/patience must be a whole number of epochs >= 0/)
    expect(() => callbacks.earlyStopping({ minDelta: Number.NaN })).toThrow(/minDelta must be a finite number >= 0/)
    expect(() => callbacks.earlyStopping({ mode: 'up' as never })).toThrow(/mode must be 'auto', 'min' or 'max'/)
    expect(() => callbacks.earlyStopping({ restoreBest: 1 as never })).toThrow(/restoreBest must be a boolean/)
    expect(() => callbacks.earlyStopping({ pateince: 3 } as never)).toThrow(/options.pateince is not an option/)
  })
})

describeBackends('fit callbacks', (tn) => {
  it('calls onBatchEnd and onEpochEnd with 0-based indices and the logs onBatch and onEpoch get, in order', async () => {
    const model = small(tn, 1n)
    const seen: string[] = []
    try {
      const { x, y } = data(32, 3)
      const object: FitCallback = {
        onTrainBegin: () => void seen.push('object begin'),
        onBatchEnd: (b) => void seen.push(`object batch ${b}`),
        onEpochEnd: (e) => void seen.push(`object epoch ${e}`),
        onTrainEnd: () => void seen.push('object end'),
      }
      await model.fit({
        x,
        y,
        epochs: 2,
        batchSize: 16,
        onBatch: (l) => void seen.push(`onBatch ${l.epoch}.${l.batch}`),
        onBatchEnd: (b, l) => void seen.push(`onBatchEnd ${b} (${l.epoch}.${l.batch})`),
        onEpoch: (l) => void seen.push(`onEpoch ${l.epoch}`),
        onEpochEnd: (e, l) => Promise.resolve(void seen.push(`onEpochEnd ${e} (${l.epoch})`)),
        callbacks: object,
      })
      expect(seen).toEqual([
        'object begin',
        ...[1, 2].flatMap((epoch) => [
          ...[1, 2].flatMap((batch) => [
            `onBatch ${epoch}.${batch}`,
            `onBatchEnd ${batch - 1} (${epoch}.${batch})`,
            `object batch ${batch - 1}`,
          ]),
          `onEpoch ${epoch}`,
          `onEpochEnd ${epoch - 1} (${epoch})`,
          `object epoch ${epoch - 1}`,
        ]),
        'object end',
      ])
    } finally {
      model.dispose()
    }
  })

  it('stops early, and with restoreBest puts back the best epoch weights', async () => {
    const { x, y } = data(64, 5)
    const model = small(tn, 2n)
    try {
      // No later epoch can lower the loss by 1e9: the first epoch stays the best.
      const stop = callbacks.earlyStopping({ monitor: 'loss', patience: 1, minDelta: 1e9, restoreBest: true })
      let afterFirst: Float32Array[] = []
      const record: FitCallback = {
        onEpochEnd: (e) => {
          if (e === 0) afterFirst = model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
        },
      }
      const history = await model.fit({ x, y, epochs: 10, batchSize: 16, callbacks: [record, stop] })
      expect(history.epochs).toHaveLength(2)
      expect(stop.stoppedEpoch).toBe(1)
      expect(stop.bestEpoch).toBe(0)
      expect(model.progress.epochs).toBe(2)
      const now = model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
      now.forEach((t, i) => expectSameBits(t, afterFirst[i], `tensor ${i}`))
      // A callback of one's own stops training the same way.
      const mine: FitCallback = {
        stopTraining: false,
        onEpochEnd(e) {
          if (e === 2) this.stopTraining = true
        },
      }
      const again = await model.fit({ x, y, epochs: 10, batchSize: 16, callbacks: mine })
      expect(again.epochs).toHaveLength(3)
    } finally {
      model.dispose()
    }
  })

  it('monitors the validation data, and refuses a validation monitor without it', async () => {
    const { x, y } = data(64, 7)
    const val = data(32, 8)
    const model = small(tn, 3n)
    try {
      const stop = callbacks.earlyStopping({ patience: 2 })
      const h = await model.fit({ x, y, epochs: 4, batchSize: 16, validation: val, callbacks: [stop] })
      expect(stop.best).toBe(Math.min(...h.epochs.slice(0, (stop.stoppedEpoch ?? 3) + 1).map((e) => e.valLoss ?? Infinity)))
      const fresh = small(tn, 9n)
      try {
        await expect(fresh.fit({ x, y, epochs: 2, callbacks: [callbacks.earlyStopping()] })).rejects.toMatchObject({
          code: 'ERR_INVALID_ARG',
          message: /earlyStopping monitors 'valLoss', which needs fit's validation data/,
        })
        // Refused before anything changed: the model has not even settled its loss.
        expect(fresh.loss).toBeUndefined()
        expect(fresh.progress.epochs).toBe(0)
      } finally {
        fresh.dispose()
      }
      await expect(model.fit({ x, y, callbacks: [{ onEpochEnd: 3 }] as never })).rejects.toMatchObject({
        message: /callbacks\[0\]\.onEpochEnd must be a function/,
      })
      expect(tn.callbacks.earlyStopping).toBe(callbacks.earlyStopping)
    } finally {
      model.dispose()
    }
  })
})
