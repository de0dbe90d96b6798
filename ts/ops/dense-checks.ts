/**
 * The argument checks that `dense`, `denseBackward` and their async forms share: the options
 * object, sizes against array lengths, the activation, the dropouts and array overlaps. Each
 * throws a ThinnetError naming the argument before anything is written or any backend is called.
 */

import type { Activation, DenseArgs, DenseInputSpec, KernelDropConnect, KernelSpec } from '../backend.js'
import { invalidArg, shapeMismatch, ThinnetError } from '../errors.js'
import { checkConcreteRate, checkConcreteTemperature, concreteConstants } from '../concrete.js'
import type { DenseLayerOptions } from '../types.js'
import {
  checkCount,
  checkFloat32Array,
  checkOwnKeys,
  checkP,
  checkPending,
  checkSpec,
  describeValue,
  readOptions,
  readPending,
  type Pending,
} from '../validate.js'

export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', 'selu']

/** leakyRelu's default slope for z <= 0 (PyTorch's, and Maas et al.'s, who introduced it). */
export const DEFAULT_ALPHA = 0.01

const DROPOUT_KEYS = ['p', 'seed', 'offset', 'stream', 'mode'] as const
/** The input and output dropouts may also be alpha dropouts (`kind`); DropConnect may not. */
const SLOT_KEYS = [...DROPOUT_KEYS, 'kind'] as const
/** The input slot also takes Gaussian noise, whose strength is `stddev`, and concrete dropout's `temperature`. */
const INPUT_KEYS = [...SLOT_KEYS, 'stddev', 'temperature'] as const
const MEAN_KEYS = ['p', 'inference'] as const
const DROP_CONNECT_KEYS = [...DROPOUT_KEYS, 'inference'] as const

/**
 * The options of a dense call, read once (the nested dropouts too) before any array is checked:
 * every getter or Proxy trap of the caller's runs here, and none between a check and the call.
 */
export interface DenseRead {
  /** One value per known key of the call. */
  options: Readonly<Record<string, unknown>>
  inputDropout: Pending
  outputDropout: Pending
  dropConnect: Pending
}

/** Reads the options object of a dense call (unknown keys rejected) and its nested dropouts. */
export function readDenseOptions(value: unknown, known: readonly string[], example: string): DenseRead {
  const options = readOptions(value, 'options', example, known)
  return {
    options,
    inputDropout: readPending(options.inputDropout, 'inputDropout', INPUT_KEYS),
    outputDropout: readPending(options.outputDropout, 'outputDropout', SLOT_KEYS),
    dropConnect: readPending(options.dropConnect, 'dropConnect', DROP_CONNECT_KEYS),
  }
}

/**
 * rows, inputs and units: counts whose products (the element counts of x, w and y) are safe
 * integers too, so that every size below is exact.
 */
export function checkSizes(options: Readonly<Record<string, unknown>>): { rows: number; inputs: number; units: number } {
  const rows = checkCount('rows', options.rows)
  const inputs = checkCount('inputs', options.inputs)
  const units = checkCount('units', options.units)
  checkProduct('rows * inputs', rows, inputs)
  checkProduct('inputs * units', inputs, units)
  checkProduct('rows * units', rows, units)
  return { rows, inputs, units }
}

function checkProduct(what: string, a: number, b: number): void {
  if (!Number.isSafeInteger(a * b)) {
    throw invalidArg(`${what} = ${a} * ${b} = ${BigInt(a) * BigInt(b)} elements: more than any array can hold`)
  }
}

/**
 * The most elements of an output thinnet allocates itself: what a u32 length holds, the limit of
 * every backend's transport (WASM refuses more; without this, native gemm with k = 0 and a huge m
 * allocated 2^32 floats, 16 GB, where WASM said ERR_INVALID_ARG), and of allocate and dropoutMask.
 */
export const MAX_OUTPUT_ELEMENTS = 2 ** 32 - 1

/** A new Float32Array of n elements for an output the caller did not give. */
export function allocateOutput(name: string, n: number): Float32Array {
  if (n > MAX_OUTPUT_ELEMENTS) {
    throw invalidArg(`${name} would have ${n} elements, more than the ${MAX_OUTPUT_ELEMENTS} an output can have on every backend`)
  }
  try {
    return new Float32Array(n)
  } catch (error) {
    throw invalidArg(`${name} cannot be allocated with ${n} elements (${String(error)}): pass your own ${name}`)
  }
}

/**
 * A Float32Array of exactly a * b elements (b = 1 for a vector). `what` names the product as the
 * message shows it: "w must have inputs * units = 784 * 1024 = 802816 elements, received 802815".
 */
export function checkSized(name: string, value: unknown, what: string, a: number, b = 1): Float32Array {
  const array = checkFloat32Array(name, value)
  // A product that is a safe integer compares exactly as a number (the common case, with no
  // bigint to make: see u64Value in validate.ts). One that is not can only mismatch (no typed
  // array is that long), and the message shows it exactly.
  const product = a * b
  if (Number.isSafeInteger(product) && array.length === product) return array
  const exact = BigInt(a) * BigInt(b)
  if (BigInt(array.length) !== exact) {
    const expected = b === 1 && what.indexOf('*') < 0 ? `${what} = ${a}` : `${what} = ${a} * ${b} = ${exact}`
    throw shapeMismatch(`${name} must have ${expected} elements, received ${array.length}`)
  }
  return array
}

/** Like checkSized, for an array that may be omitted (undefined). */
export function checkOptionalSized(name: string, value: unknown, what: string, a: number, b = 1): Float32Array | undefined {
  return value === undefined ? undefined : checkSized(name, value, what, a, b)
}

export function checkActivation(value: unknown): Activation {
  if (value === undefined) return 'linear'
  if ((ACTIVATIONS as readonly unknown[]).includes(value)) return value as Activation
  throw invalidArg(`activation must be one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}, received ${describeValue(value)}`)
}

/**
 * leakyRelu's slope: finite and >= 0 as a float32 (the kernels take it as one), so that the sign
 * of y is the sign of z and the backward pass can work from y. Checked whatever the activation,
 * so that a bad value never waits for the day the activation changes.
 */
export function checkAlpha(value: unknown): number {
  if (value === undefined) return DEFAULT_ALPHA
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(Math.fround(value))) {
    throw invalidArg(`alpha must be a finite float32 >= 0 (leakyRelu's slope for z <= 0), received ${describeValue(value)}`)
  }
  return value
}

/** The checked layer definition: activation, alpha and dropouts, as the backend takes it. */
export function checkLayer(read: DenseRead, sizes: { rows: number; inputs: number; units: number }): DenseArgs {
  const { rows, inputs, units } = sizes
  const { options } = read
  const args: DenseArgs = {
    rows,
    inputs,
    units,
    activation: checkActivation(options.activation),
    alpha: checkAlpha(options.alpha),
  }
  const input = checkInputDropout(read.inputDropout, rows * inputs)
  const output = checkDropout(read.outputDropout, 'outputDropout', rows * units, 'rows * units')
  const connect = checkDropConnect(read.dropConnect, inputs * units)
  if (input !== undefined) args.inputDropout = input
  if (output !== undefined) args.outputDropout = output
  if (connect !== undefined) args.dropConnect = connect
  return args
}

/**
 * The input slot: a dropout or alpha dropout as the output slot, or Gaussian dropout (p in [0, 1))
 * or Gaussian noise (stddev, no p), which have no mode (docs/DROPOUT-FAMILY.md section 7), or
 * concrete dropout (p in (0, 1), temperature, no mode; section 9).
 */
function checkInputDropout(pending: Pending, n: number): DenseInputSpec | undefined {
  if (pending.raw === undefined) return undefined
  const name = 'inputDropout'
  const example = "{ p: 0.5, seed: 1 }, { p: 0.1, seed: 1, kind: 'alpha' } or { stddev: 0.1, seed: 1, kind: 'gaussianNoise' }"
  const options = checkPending(pending, name, example, INPUT_KEYS)
  const kind = options.kind
  if (kind !== 'concrete' && options.temperature !== undefined) {
    throw invalidArg(`${name}.temperature is an option of kind 'concrete' only, received kind ${describeValue(kind)}`)
  }
  if (kind === 'concrete') return checkConcreteInput(options, n)
  if (kind !== 'gaussianDropout' && kind !== 'gaussianNoise') {
    if (options.stddev !== undefined) {
      throw invalidArg(`${name}.stddev is an option of kind 'gaussianNoise' only, received kind ${describeValue(kind)}`)
    }
    return checkDropout(pending, name, n, 'rows * inputs')
  }
  if (options.mode !== undefined) {
    throw invalidArg(`${name}.mode must be omitted with kind '${kind}' (it has no mode), received ${describeValue(options.mode)}`)
  }
  let p: number
  if (kind === 'gaussianNoise') {
    if (options.p !== undefined) throw invalidArg(`${name}: gaussianNoise takes stddev, not p (received p ${describeValue(options.p)})`)
    const s = options.stddev
    if (typeof s !== 'number' || !(s >= 0) || !Number.isFinite(Math.fround(s))) {
      throw invalidArg(`${name}.stddev must be a finite number >= 0 (below 3.4e38, float32), received ${describeValue(s)}`)
    }
    // sigma = fround(stddev), as tn.gaussianNoise passes it.
    p = Math.fround(s)
  } else {
    if (options.stddev !== undefined) {
      throw invalidArg(`${name}: gaussianDropout takes p, not stddev (received stddev ${describeValue(options.stddev)})`)
    }
    const rate = options.p
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
      throw invalidArg(`${name}.p must be a number in [0, 1) for gaussianDropout (variance p / (1 - p)), received ${describeValue(rate)}`)
    }
    p = rate
  }
  // The draw fields as any spec's (checkSpec checks p in [0, 1]: given a placeholder).
  const spec = checkSpec({ ...options, p: 0, mode: undefined }, n, name, 'n = rows * inputs =')
  return { ...spec, p, kind }
}

/**
 * Concrete dropout in the input slot: the rate and temperature as tn.concreteDropout checks them
 * (ts/concrete.ts), no mode, no stddev; the three constants computed once, here.
 */
function checkConcreteInput(options: Readonly<Record<string, unknown>>, n: number): DenseInputSpec {
  const name = 'inputDropout'
  if (options.mode !== undefined) {
    throw invalidArg(`${name}.mode must be omitted with kind 'concrete' (it has no mode), received ${describeValue(options.mode)}`)
  }
  if (options.stddev !== undefined) {
    throw invalidArg(`${name}.stddev is an option of kind 'gaussianNoise' only, received kind 'concrete'`)
  }
  const p = checkConcreteRate(options.p, `${name}.p`)
  const temperature = checkConcreteTemperature(options.temperature, `${name}.temperature`)
  // The draw fields as any spec's (checkSpec checks p in [0, 1]: given a placeholder).
  const spec = checkSpec({ ...options, p: 0, mode: undefined }, n, name, 'n = rows * inputs =')
  return { ...spec, p, kind: 'concrete', concrete: concreteConstants(p, temperature) }
}

/**
 * An input or output dropout over a tensor of n elements (n = `what`, e.g. "rows * inputs"): a
 * dropout, or with kind 'alpha' an alpha dropout, which has no classic mode.
 */
function checkDropout(pending: Pending, name: string, n: number, what: string): KernelSpec | undefined {
  if (pending.raw === undefined) return undefined
  const options = checkPending(pending, name, "{ p: 0.5, seed: 1 } or { p: 0.1, seed: 1, kind: 'alpha' }", SLOT_KEYS)
  const kind = options.kind
  if (kind !== undefined && kind !== 'dropout' && kind !== 'alpha') {
    throw invalidArg(`${name}.kind must be 'dropout' or 'alpha', received ${describeValue(kind)}`)
  }
  if (kind === 'alpha' && options.mode !== undefined && options.mode !== 'inverted') {
    throw invalidArg(
      `${name}.mode must be omitted (or 'inverted') with kind 'alpha': alpha dropout has no classic mode ` +
        `(its inference is the identity), received ${describeValue(options.mode)}`,
    )
  }
  const spec = checkSpec(options, n, name, `n = ${what} =`)
  if (kind === 'alpha') spec.kind = 'alpha'
  return spec
}

function checkDropConnect(pending: Pending, n: number): KernelDropConnect | undefined {
  if (pending.raw === undefined) return undefined
  const example = "{ p: 0.5, seed: 1 } or { p: 0.5, inference: 'mean' }"
  // Which keys are allowed depends on `inference`: checked just below.
  const options = checkPending(pending, 'dropConnect', example, undefined)
  // checkPending threw unless dropConnect was an object, which readPending read.
  const read = pending.read
  if (read === undefined) throw new ThinnetError('ERR_INTERNAL', 'dropConnect was checked but not read')
  const own = read.own
  if (options.inference === undefined) {
    checkOwnKeys(own, DROPOUT_KEYS, 'dropConnect')
    return { kind: 'sample', spec: checkSpec(options, n, 'dropConnect', 'n = inputs * units =') }
  }
  if (options.inference !== 'mean') {
    throw invalidArg(`dropConnect.inference must be 'mean' (or omitted, for a sampled mask), received ${describeValue(options.inference)}`)
  }
  for (const key of own) {
    if (!(MEAN_KEYS as readonly string[]).includes(key)) {
      throw invalidArg(
        `dropConnect.${key} is not an option with inference: 'mean' (no mask is drawn): expected one of ${MEAN_KEYS.join(', ')}`,
      )
    }
  }
  return { kind: 'mean', p: checkP(options.p, 'dropConnect.p') }
}

/** The layer fields every dense options type has, typed for the keys lists below. */
export const LAYER_KEYS: readonly (keyof DenseLayerOptions)[] = [
  'x',
  'w',
  'rows',
  'inputs',
  'units',
  'activation',
  'alpha',
  'inputDropout',
  'outputDropout',
  'dropConnect',
]

type Named = readonly [name: string, array: Float32Array | undefined]

/**
 * Each output must not share a byte with any other array of the call: the fused kernels read
 * their inputs while they write, so nothing can work in place. (Inputs may share memory with each
 * other: they are only read.)
 */
export function checkDisjoint(outputs: readonly Named[], inputs: readonly Named[]): void {
  const all = [...outputs, ...inputs]
  for (const [name, out] of outputs) {
    if (out === undefined) continue
    for (const [other, array] of all) {
      if (array === undefined || other === name) continue
      const shared = sharedBytes(out, array)
      if (shared !== undefined) {
        throw invalidArg(
          `${name} must not overlap ${other} (the fused layer does not work in place), received views that ` +
            `share bytes [${shared[0]}, ${shared[1]}) of one buffer`,
        )
      }
    }
  }
}

/** The byte range two views share in one buffer, or undefined. */
export function sharedBytes(a: ArrayBufferView, b: ArrayBufferView): [number, number] | undefined {
  if (a.buffer !== b.buffer) return undefined
  const start = Math.max(a.byteOffset, b.byteOffset)
  const end = Math.min(a.byteOffset + a.byteLength, b.byteOffset + b.byteLength)
  return start < end ? [start, end] : undefined
}
