/**
 * Schedules: a value as a function of training progress, measured in epochs (fractional within an
 * epoch: batch b of B in epoch e is at e + b / B). Used for learning rates
 * (`tn.optimizers.adam({ lr: tn.schedules.cosine({ initial: 1e-3, epochs: 20 }) })`) and for
 * dropout rates (`fit({ dropoutSchedule })`, a factor on every layer's configured rate).
 */

import { invalidArg } from '../errors.js'
import { describeValue, readOptions } from '../validate.js'

export interface Schedule {
  readonly kind: 'constant' | 'step' | 'cosine' | 'linear'
  /** The value at `progress` epochs (progress >= 0). */
  at(progress: number): number
  /** The options that rebuild it (for saving and printing). */
  readonly options: Readonly<Record<string, number>>
}

function checkNumber(name: string, value: unknown, test: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !test(value)) {
    throw invalidArg(`${name} must be ${expected}, received ${describeValue(value)}`)
  }
  return value
}

const nonNegative = (v: number) => v >= 0
const positive = (v: number) => v > 0

/**
 * The same value throughout.
 *
 * @example
 * ```ts
 * import { schedules } from 'thinnet'
 * console.log(schedules.constant({ value: 0.1 }).at(7)) // -> 0.1
 * ```
 */
export function constant(options: { value: number }): Schedule {
  const o = readOptions(options, 'options', '{ value: 0.001 }', ['value'])
  const value = checkNumber('value', o.value, nonNegative, 'a finite number >= 0')
  return Object.freeze({ kind: 'constant', at: () => value, options: Object.freeze({ value }) })
}

/**
 * Step decay: initial * factor ^ floor(progress / every). With { initial: 0.1, every: 10,
 * factor: 0.5 }: 0.1 for epochs 0-9, 0.05 for 10-19, ...
 *
 * @example
 * ```ts
 * import { schedules } from 'thinnet'
 * const s = schedules.step({ initial: 0.1, every: 10, factor: 0.5 })
 * console.log(s.at(9.9), s.at(10)) // -> 0.1 0.05
 * ```
 */
export function step(options: { initial: number; every: number; factor: number }): Schedule {
  const o = readOptions(options, 'options', '{ initial: 0.1, every: 10, factor: 0.5 }', ['initial', 'every', 'factor'])
  const initial = checkNumber('initial', o.initial, nonNegative, 'a finite number >= 0')
  const every = checkNumber('every', o.every, positive, 'a finite number of epochs > 0')
  const factor = checkNumber('factor', o.factor, nonNegative, 'a finite number >= 0')
  return Object.freeze({
    kind: 'step',
    at: (progress: number) => initial * factor ** Math.floor(progress / every),
    options: Object.freeze({ initial, every, factor }),
  })
}

/**
 * Cosine annealing (Loshchilov and Hutter 2017, without restarts): from `initial` at 0 down to
 * `min` (default 0) at `epochs`, following half a cosine, then `min`.
 *
 * @example
 * ```ts
 * import { schedules } from 'thinnet'
 * const s = schedules.cosine({ initial: 1e-3, epochs: 20 })
 * console.log(s.at(0), s.at(10), s.at(20)) // -> 0.001 0.0005 0
 * ```
 */
export function cosine(options: { initial: number; epochs: number; min?: number }): Schedule {
  const o = readOptions(options, 'options', '{ initial: 0.001, epochs: 20 }', ['initial', 'epochs', 'min'])
  const initial = checkNumber('initial', o.initial, nonNegative, 'a finite number >= 0')
  const epochs = checkNumber('epochs', o.epochs, positive, 'a finite number of epochs > 0')
  const min = o.min === undefined ? 0 : checkNumber('min', o.min, (v) => v >= 0 && v <= initial, 'a finite number in [0, initial]')
  return Object.freeze({
    kind: 'cosine',
    at: (progress: number) => {
      const t = Math.min(progress, epochs) / epochs
      // cos(pi) is -1 + 1.2e-16: clamp so the end is exactly `min`.
      return t >= 1 ? min : min + ((initial - min) * (1 + Math.cos(Math.PI * t))) / 2
    },
    options: Object.freeze({ initial, epochs, min }),
  })
}

/**
 * A straight line from `from` at 0 to `to` at `epochs`, then `to`. As a dropout schedule,
 * { from: 0, to: 1, epochs: 5 } ramps every rate up from 0 to its configured value over five
 * epochs (curriculum dropout, Morerio et al. 2017).
 *
 * @example
 * ```ts
 * import { schedules } from 'thinnet'
 * console.log(schedules.linear({ from: 0, to: 1, epochs: 4 }).at(1)) // -> 0.25
 * ```
 */
export function linear(options: { from: number; to: number; epochs: number }): Schedule {
  const o = readOptions(options, 'options', '{ from: 0, to: 1, epochs: 5 }', ['from', 'to', 'epochs'])
  const from = checkNumber('from', o.from, nonNegative, 'a finite number >= 0')
  const to = checkNumber('to', o.to, nonNegative, 'a finite number >= 0')
  const epochs = checkNumber('epochs', o.epochs, positive, 'a finite number of epochs > 0')
  return Object.freeze({
    kind: 'linear',
    at: (progress: number) => from + (to - from) * Math.min(progress / epochs, 1),
    options: Object.freeze({ from, to, epochs }),
  })
}

/** A number (constant) or a Schedule, checked; `name` names it in messages. */
export function checkSchedule(value: unknown, name: string): Schedule {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw invalidArg(`${name} must be a finite number >= 0 or a schedule, received ${describeValue(value)}`)
    return constant({ value })
  }
  if (typeof value === 'object' && value !== null && typeof (value as Schedule).at === 'function') return value as Schedule
  throw invalidArg(`${name} must be a number or a schedule from tn.schedules, received ${describeValue(value)}`)
}
