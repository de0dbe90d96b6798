/**
 * Flag value parsers and the flags several commands share. A parser throws commander's
 * InvalidArgumentError, which commander prints as "error: option '--epochs <n>' argument 'x' is
 * invalid. <reason>" and exits with status 1, so every bad value names its flag.
 */

import { InvalidArgumentError, Option } from 'commander'

/** An integer >= min (default 1). */
export function integer(min = 1): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`)
    }
    return n
  }
}

/** A finite number above 0. */
export function positiveNumber(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a finite number above 0')
  return n
}

/** A finite number >= 0. */
export function nonNegativeNumber(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a finite number >= 0')
  return n
}

/** A dropout rate in [0, 1). */
export function rate(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('expected a rate in [0, 1)')
  return n
}

/** A comma-separated list of layer widths such as "1024,1024"; "" or "none" for no hidden layer. */
export function widths(value: string): number[] {
  const trimmed = value.trim()
  if (trimmed === '' || trimmed === 'none') return []
  return trimmed.split(',').map((part) => {
    const n = Number(part)
    if (!/^\s*\d+\s*$/.test(part) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`expected comma-separated positive integers such as 1024,1024 (got "${part.trim()}")`)
    }
    return n
  })
}

export const BACKENDS = ['native', 'wasm', 'wasm-scalar'] as const
export type BackendChoice = (typeof BACKENDS)[number]

/** --backend: one of the three, or (absent) the automatic choice, THINNET_BACKEND first. */
export function backendOption(): Option {
  return new Option(
    '--backend <name>',
    'compute backend (default: THINNET_BACKEND, else native if it loads, else wasm, else wasm-scalar)',
  ).choices(BACKENDS)
}

/** --data: the shipped subset, the full set, or a folder. */
export function dataOption(): Option {
  return new Option(
    '--data <set>',
    "Fashion-MNIST: 'subset' (3,000 train / 5,000 test, shipped with thinnet), 'full' (60,000 / 10,000 from " +
      '/usr/share/datasets/fashion-mnist: apt-get install dataset-fashion-mnist) or a folder holding the four IDX files (plain or .gz)',
  ).default('subset')
}

/** A seed: an unsigned 64-bit integer in decimal. */
export function seed(value: string): bigint {
  if (!/^\s*\d+\s*$/.test(value)) throw new InvalidArgumentError('expected an unsigned integer below 2^64')
  const n = BigInt(value.trim())
  if (n >= 1n << 64n) throw new InvalidArgumentError('expected an unsigned integer below 2^64')
  return n
}

/** A comma-separated list of distinct dropout rates in [0, 1), such as "0.2,0.35,0.5". */
export function rates(value: string): number[] {
  const parts = value.split(',')
  const out = parts.map((part) => {
    const n = Number(part)
    if (part.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) {
      throw new InvalidArgumentError(`expected comma-separated rates in [0, 1) such as 0.2,0.35,0.5 (got "${part.trim()}")`)
    }
    return n
  })
  if (new Set(out).size !== out.length) throw new InvalidArgumentError('expected distinct rates (a value is repeated)')
  return out
}

/** A comma-separated list of distinct integers >= min, such as "50,70". */
export function integers(min = 1): (value: string) => number[] {
  return (value) => {
    const out = value.split(',').map((part) => {
      const n = Number(part)
      if (!/^\s*\d+\s*$/.test(part) || !Number.isSafeInteger(n) || n < min) {
        throw new InvalidArgumentError(`expected comma-separated integers >= ${min} such as 50,70 (got "${part.trim()}")`)
      }
      return n
    })
    if (new Set(out).size !== out.length) throw new InvalidArgumentError('expected distinct integers (a value is repeated)')
    return out
  }
}

/** A fraction strictly between 0 and 1. */
export function fraction(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1)
    throw new InvalidArgumentError('expected a number between 0 and 1 (exclusive)')
  return n
}
