/**
 * Array and scalar arguments, valid or hostile: the shapes of input the facade must either accept
 * and compute on, or reject with a coded ThinnetError without touching anything.
 */

import type { BackendBuffer, Thinnet } from '../../ts/index.js'
import type { Rng } from './prng.js'

/** How one array argument was made; everything after 'allocated' is invalid. */
export const VALID_KINDS = ['fresh', 'subarray', 'allocated'] as const
export const INVALID_KINDS = ['short', 'long', 'float64', 'plain', 'null', 'detached', 'uint32', 'string'] as const
/** Floats in the pool of allocate()d arguments of one call (larger than any generated array). */
const POOL = 4096

export type ArrayKind = (typeof VALID_KINDS)[number] | (typeof INVALID_KINDS)[number]

/** The arguments of one call under construction: the arrays to watch and how each was made. */
export class Args {
  /** Arrays that a rejected call must leave bit for bit as they were. */
  readonly watched: ArrayBufferView[] = []
  readonly notes: string[] = []
  valid = true
  /**
   * allocate()d arguments are slices of one pool taken when the call is built: on WASM a second
   * allocate() could grow memory and detach the first one's view before the call.
   */
  private pool: BackendBuffer | undefined
  private used = 0
  private readonly slices = new Map<Float32Array, [number, number]>()

  constructor(
    readonly rng: Rng,
    readonly tn: Thinnet,
    /** Probability that one argument is made invalid. */
    readonly hostility: number,
  ) {}

  /** Marks the call as one that may be rejected, noting why (for the reproduction). */
  taint(note: string): void {
    this.valid = false
    this.notes.push(note)
  }

  /** A float32 array argument of `n` elements, sometimes hostile. */
  floats(name: string, n: number, nonFinite = true): Float32Array {
    const kind: ArrayKind = this.rng.chance(this.hostility) ? this.rng.pick(INVALID_KINDS) : this.rng.pick(VALID_KINDS)
    const data = this.rng.floats(n, nonFinite)
    if (kind !== 'fresh') this.notes.push(`${name}: ${kind}`)
    switch (kind) {
      case 'fresh':
        return this.watch(data)
      case 'subarray': {
        const before = this.rng.int(5)
        const whole = this.rng.floats(before + n + this.rng.int(5), nonFinite)
        const view = whole.subarray(before, before + n)
        view.set(data)
        return this.watch(view)
      }
      case 'allocated': {
        if (this.pool === undefined) this.pool = this.tn.allocate(POOL)
        if (this.used + n > POOL) return this.watch(data)
        const view = this.pool.view().subarray(this.used, this.used + n)
        this.slices.set(view, [this.used, n])
        this.used += n
        view.set(data)
        // Not watched: the call may grow WASM memory and detach it, which is allowed.
        return view
      }
      default:
        this.taint(`${name}: ${kind}`)
        return this.invalid(kind, data) as Float32Array
    }
  }

  private invalid(kind: ArrayKind, data: Float32Array): unknown {
    switch (kind) {
      case 'short':
        return this.watch(data.length > 0 ? data.subarray(0, data.length - 1) : new Float32Array(1))
      case 'long':
        return this.watch(this.rng.floats(data.length + 1 + this.rng.int(40), true))
      case 'float64':
        return this.watch(Float64Array.from(data))
      case 'plain':
        return Array.from(data)
      case 'null':
        return null
      case 'detached': {
        structuredClone(data.buffer, { transfer: [data.buffer] })
        return data
      }
      case 'uint32':
        return this.watch(new Uint32Array(data.buffer))
      default:
        return 'x'
    }
  }

  /** A count or size: usually `n`, sometimes negative, fractional, huge or not a number. */
  count(name: string, n: number, huge = true): number {
    if (!this.rng.chance(this.hostility)) return n
    // `huge` off where a huge count is valid and would only make the run allocate gigabytes.
    const bad = this.rng.pick<unknown>([
      -1,
      NaN,
      n + 0.5,
      Infinity,
      -0,
      `${n}`,
      10n,
      null,
      ...(huge ? [2 ** 31, 2 ** 32 + n, 2 ** 53] : [2 ** 53]),
    ])
    this.taint(`${name}: ${describe(bad)}`)
    return bad as number
  }

  /** A scalar option: `good` most of the time, else a value from `bad`. */
  scalar<T>(name: string, good: T, bad: readonly unknown[]): T {
    if (!this.rng.chance(this.hostility) || bad.length === 0) return good
    const value = this.rng.pick(bad)
    this.taint(`${name}: ${describe(value)}`)
    return value as T
  }

  /**
   * The options object as passed: plain, a transparent Proxy, or an object whose getters run a
   * side effect that detaches one of the call's arrays (the hostile caller of issue 11, item 7).
   */
  wrap<T extends object>(options: T, victims: readonly ArrayBufferView[]): T {
    const r = this.rng.int(10)
    if (r === 0) {
      this.notes.push('options: Proxy')
      return new Proxy(options, {})
    }
    const victim = victims.find((v) => ArrayBuffer.isView(v) && v.byteLength > 0 && !this.slices.has(v as Float32Array))
    if (r === 1 && this.hostility > 0 && victim !== undefined) {
      const key = this.rng.pick(Object.keys(options))
      const value = (options as Record<string, unknown>)[key]
      const copy = { ...options }
      Object.defineProperty(copy, key, {
        enumerable: true,
        get() {
          if (victim.byteLength > 0) structuredClone(victim.buffer, { transfer: [victim.buffer as ArrayBuffer] })
          return value
        },
      })
      this.taint(`options.${key}: a getter that detaches an array`)
      return copy
    }
    return options
  }

  /** `view` as it is now: an allocate()d one re-derived from its buffer (its old view may be detached). */
  current<T>(view: T): T {
    const slice = view instanceof Float32Array ? this.slices.get(view) : undefined
    if (slice === undefined || this.pool === undefined) return view
    return this.pool.view().subarray(slice[0], slice[0] + slice[1]) as T
  }

  /** Frees the allocate()d buffer of the call. */
  free(): void {
    this.pool?.free()
  }

  private watch<V extends ArrayBufferView>(view: V): V {
    this.watched.push(view)
    return view
  }
}

/** A value as the reproduction prints it. */
export function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' && Object.is(value, -0)) return '-0'
  return String(value)
}
