/**
 * The dropout family's ops (docs/DROPOUT-FAMILY.md): noise-shaped, spatial and locked dropout,
 * alpha and feature alpha dropout, Gaussian dropout and Gaussian noise, each a forward and a
 * backward that regenerates the forward's noise. Every op reads its options once, checks them
 * (here, in one place: `checkFamilyCall`), allocates the output when none is given and makes one
 * backend call, `noise`.
 */

import type { Backend, DropoutMode, NoiseBroadcast, NoiseKernelSpec, NoiseKind } from '../backend.js'
import { fromBackendError, invalidArg } from '../errors.js'
import { checkNoiseShape, checkShape, lockedNoiseShape, product, spatialNoiseShape, type NoiseDataFormat } from '../noise-shape.js'
import type { U64 } from '../types.js'
import { checkFloat32Array, checkMode, checkOut, checkP, checkRange, checkU64, describeValue, readOptions } from '../validate.js'

export type { NoiseDataFormat } from '../noise-shape.js'
export type { NoiseKind } from '../backend.js'

/** What every member's options share: the draw (as tn.dropout's) and the output. */
export interface FamilyDrawOptions {
  /** Seed: a bigint in [0, 2^64 - 1] or a non-negative safe integer. */
  seed: U64
  /** First element index of the stream (default 0). */
  offset?: U64
  /** Stream (default 0). */
  stream?: U64
  /** The output: a Float32Array of x's length, or x itself (in place). Default: a new array. */
  out?: Float32Array
}

/** A tensor's shape and the shape of its mask (Keras `noise_shape`): dims equal to the shape's, 1, or null. */
export interface NoiseShapeOptions {
  /** The tensor's shape (row-major; its product is x.length). Default [x.length]. */
  shape?: readonly number[]
  /** The mask's shape: each dim the shape's (or null, Keras' None) or 1 (shared along it). Default: shape. */
  noiseShape?: readonly (number | null)[]
}

export interface AlphaDropoutOptions extends FamilyDrawOptions, NoiseShapeOptions {
  /** Drop probability in [0, 1] (1: every element +0, PyTorch's rule). */
  p: number
}

export interface SpatialDropoutOptions extends FamilyDrawOptions {
  /** Drop probability in [0, 1]. */
  p: number
  mode?: DropoutMode
  /** Batched [batch, ...spatial, C] (channels last) or [batch, C, ...spatial]; or without batch. */
  shape: readonly number[]
  /** 'channelsLast' (default, Keras) or 'channelsFirst' (PyTorch). */
  dataFormat?: NoiseDataFormat
}

export interface FeatureAlphaDropoutOptions extends FamilyDrawOptions {
  /** Drop probability in [0, 1]. */
  p: number
  /** As SpatialDropoutOptions.shape: [batch, C, ...] channels first, [batch, ..., C] channels last. */
  shape: readonly number[]
  /** 'channelsLast' (default) or 'channelsFirst' (PyTorch's FeatureAlphaDropout layout). */
  dataFormat?: NoiseDataFormat
}

export interface LockedDropoutOptions extends FamilyDrawOptions {
  /** Drop probability in [0, 1]. */
  p: number
  mode?: DropoutMode
  /** [batch, time, features], or [time, batch, features] with timeMajor. */
  shape: readonly number[]
  /** AWD-LSTM's layout [time, batch, features] (default false). */
  timeMajor?: boolean
}

export interface GaussianDropoutOptions extends FamilyDrawOptions {
  /** The rate in [0, 1): multiplicative noise N(1, p / (1 - p)). */
  p: number
}

export interface GaussianNoiseOptions extends FamilyDrawOptions {
  /** The standard deviation: finite, >= 0. */
  stddev: number
}

/** `tn.noise`: any member by name, forward or backward. */
export interface NoiseOptions extends FamilyDrawOptions, NoiseShapeOptions {
  kind: NoiseKind
  /** The rate (dropout, alpha, gaussianDropout). */
  p?: number
  /** Gaussian noise's standard deviation. */
  stddev?: number
  /** Dropout only: 'inverted' (default) or 'classic'. */
  mode?: DropoutMode
  /** The gradient (x is then dy), regenerating the forward's noise. Default false. */
  backward?: boolean
}

const DRAW_KEYS = ['seed', 'offset', 'stream', 'out'] as const
const KINDS: readonly NoiseKind[] = ['dropout', 'alpha', 'gaussianDropout', 'gaussianNoise']

/** How an op lays out its noise: from the options already read, x's length. */
type Layout = (read: Readonly<Record<string, unknown>>, length: number, xName: string) => NoiseBroadcast | undefined

/** A shape and noise shape, checked against each other and x's length. */
function broadcastOf(shape: unknown, noise: unknown, length: number, xName: string): NoiseBroadcast {
  const checked = checkNoiseShape(shape, noise, length, xName)
  return { dims: checked.shape, noise: checked.noiseShape }
}

/** shape and noiseShape as given (tn.noise, alphaDropout, tn.dropout's noise shapes). */
const givenLayout: Layout = (read, length, xName) => {
  if (read.noiseShape !== undefined && read.shape === undefined) {
    throw invalidArg(`noiseShape needs shape (the tensor's shape, whose product is ${xName}.length = ${length})`)
  }
  return read.shape === undefined ? undefined : broadcastOf(read.shape, read.noiseShape, length, xName)
}

/** dataFormat, absent meaning 'channelsLast'; null is refused like any other value (as the layers do). */
function checkDataFormat(value: unknown): NoiseDataFormat {
  if (value === undefined) return 'channelsLast'
  if (value === 'channelsLast' || value === 'channelsFirst') return value
  throw invalidArg(`dataFormat must be 'channelsLast' or 'channelsFirst', received ${describeValue(value)}`)
}

/** Spatial dropout over `dims` spatial dimensions. */
function spatialLayout(dims: 1 | 2 | 3): Layout {
  return (read, length, xName) => {
    if (read.shape === undefined) throw invalidArg(`shape is required: the tensor's shape, whose product is ${xName}.length = ${length}`)
    // The caller's array is read once, here; the helpers below read the copy.
    const shape = checkShape(read.shape)
    const noise = spatialNoiseShape(shape, { dims, dataFormat: checkDataFormat(read.dataFormat) })
    return broadcastOf(shape, noise, length, xName)
  }
}

const lockedLayout: Layout = (read, length, xName) => {
  if (read.shape === undefined) throw invalidArg(`shape is required: [batch, time, features] with product ${xName}.length = ${length}`)
  const shape = checkShape(read.shape)
  // null is refused like any non-boolean (lockedNoiseShape would take it for the default).
  if (read.timeMajor !== undefined && typeof read.timeMajor !== 'boolean') {
    throw invalidArg(`timeMajor must be a boolean, received ${describeValue(read.timeMajor)}`)
  }
  const noise = lockedNoiseShape(shape, { timeMajor: read.timeMajor })
  return broadcastOf(shape, noise, length, xName)
}

/**
 * Feature alpha dropout (PyTorch FeatureAlphaDropout): [batch, C, ...] channels first or
 * [batch, ..., C] channels last, any rank from 2; one mask element per example and channel.
 */
const featureLayout: Layout = (read, length, xName) => {
  if (read.shape === undefined)
    throw invalidArg(`shape is required: [batch, C, ...] or [batch, ..., C] with product ${xName}.length = ${length}`)
  const dataFormat = checkDataFormat(read.dataFormat)
  const shape = checkShape(read.shape)
  if (shape.length < 2) throw invalidArg(`shape must have at least 2 dimensions, [batch, channels, ...], received ${shape.length}`)
  const channel = dataFormat === 'channelsFirst' ? 1 : shape.length - 1
  const noise = shape.map((n, d) => (d === 0 || d === channel ? n : 1))
  return broadcastOf(shape, noise, length, xName)
}

/** One op of the family: its member, its option keys, and how it lays out the noise. */
interface OpDef {
  kind: NoiseKind | 'any'
  keys: readonly string[]
  example: string
  layout: Layout
}

const OPS = {
  dropout: {
    kind: 'dropout',
    keys: ['p', 'mode', 'shape', 'noiseShape', ...DRAW_KEYS],
    example: '{ p: 0.5, seed: 1 }',
    layout: givenLayout,
  },
  spatialDropout1d: spatialOp(1),
  spatialDropout2d: spatialOp(2),
  spatialDropout3d: spatialOp(3),
  lockedDropout: {
    kind: 'dropout',
    keys: ['p', 'mode', 'shape', 'timeMajor', ...DRAW_KEYS],
    example: '{ p: 0.3, seed: 1, shape: [32, 100, 64] }',
    layout: lockedLayout,
  },
  alphaDropout: { kind: 'alpha', keys: ['p', 'shape', 'noiseShape', ...DRAW_KEYS], example: '{ p: 0.1, seed: 1 }', layout: givenLayout },
  featureAlphaDropout: {
    kind: 'alpha',
    keys: ['p', 'shape', 'dataFormat', ...DRAW_KEYS],
    example: "{ p: 0.1, seed: 1, shape: [8, 16, 32, 32], dataFormat: 'channelsFirst' }",
    layout: featureLayout,
  },
  gaussianDropout: { kind: 'gaussianDropout', keys: ['p', ...DRAW_KEYS], example: '{ p: 0.3, seed: 1 }', layout: () => undefined },
  gaussianNoise: { kind: 'gaussianNoise', keys: ['stddev', ...DRAW_KEYS], example: '{ stddev: 0.1, seed: 1 }', layout: () => undefined },
  noise: {
    kind: 'any',
    keys: ['kind', 'p', 'stddev', 'mode', 'shape', 'noiseShape', 'backward', ...DRAW_KEYS],
    example: "{ kind: 'alpha', p: 0.1, seed: 1 }",
    layout: givenLayout,
  },
} satisfies Record<string, OpDef>

function spatialOp(dims: 1 | 2 | 3): OpDef {
  return {
    kind: 'dropout',
    keys: ['p', 'mode', 'shape', 'dataFormat', ...DRAW_KEYS],
    example: `{ p: 0.2, seed: 1, shape: [${['8, 100', '8, 32, 32', '8, 16, 16, 16'][dims - 1]}, 64] }`,
    layout: spatialLayout(dims),
  }
}

export type FamilyOp = keyof typeof OPS

/** A checked call: the member's spec and layout, and the output to write. */
interface Checked {
  spec: NoiseKernelSpec
  broadcast: NoiseBroadcast | undefined
  backward: boolean
}

/** The rate or stddev of a member, checked for it. */
function checkStrength(kind: NoiseKind, read: Readonly<Record<string, unknown>>): number {
  if (kind === 'gaussianNoise') {
    if (read.p !== undefined) throw invalidArg(`gaussianNoise takes stddev, not p (received p ${describeValue(read.p)})`)
    const s = read.stddev
    if (typeof s !== 'number' || !(s >= 0) || !Number.isFinite(Math.fround(s))) {
      throw invalidArg(`stddev must be a finite number >= 0 (below 3.4e38, float32), received ${describeValue(s)}`)
    }
    // sigma = fround(stddev) (docs section 5): passed as such, a stddev that rounds to 0 (1e-46)
    // copies on every backend, as the reference does (binaries before ccb95cd added +-0 there).
    return Math.fround(s)
  }
  if (read.stddev !== undefined) throw invalidArg(`${kind} takes p, not stddev (received stddev ${describeValue(read.stddev)})`)
  if (kind === 'gaussianDropout') {
    const p = read.p
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) {
      throw invalidArg(`p must be a number in [0, 1) for gaussianDropout (variance p / (1 - p)), received ${describeValue(p)}`)
    }
    return p
  }
  return checkP(read.p)
}

function checkFamilyCall(
  op: OpDef,
  read: Readonly<Record<string, unknown>>,
  input: Float32Array,
  xName: string,
  backwardOp: boolean,
): Checked {
  let kind: NoiseKind
  if (op.kind === 'any') {
    if (!(KINDS as readonly unknown[]).includes(read.kind)) {
      throw invalidArg(`kind must be one of ${KINDS.map((k) => `'${k}'`).join(', ')}, received ${describeValue(read.kind)}`)
    }
    kind = read.kind as NoiseKind
  } else {
    kind = op.kind
  }
  if (read.backward !== undefined && typeof read.backward !== 'boolean') {
    throw invalidArg(`backward must be a boolean, received ${describeValue(read.backward)}`)
  }
  if (read.mode !== undefined && kind !== 'dropout') {
    throw invalidArg(`mode applies to dropout only: ${kind} has no classic form, received mode ${describeValue(read.mode)}`)
  }
  const p = checkStrength(kind, read)
  const spec: NoiseKernelSpec = {
    kind,
    p,
    seed: checkU64('seed', read.seed),
    offset: read.offset === undefined ? 0n : checkU64('offset', read.offset),
    stream: read.stream === undefined ? 0n : checkU64('stream', read.stream),
    mode: read.mode === undefined ? 'inverted' : checkMode(read.mode),
  }
  let broadcast = op.layout(read, input.length, xName)
  if (broadcast !== undefined && product(broadcast.noise) === input.length) broadcast = undefined // element-wise
  if (broadcast !== undefined && (kind === 'gaussianDropout' || kind === 'gaussianNoise')) {
    throw invalidArg(`${kind} acts element by element (as in Keras): noiseShape must equal shape or be left out`)
  }
  // The draws the call consumes: the noise tensor's elements (or x's, element-wise).
  const draws = broadcast === undefined ? input.length : product(broadcast.noise)
  checkRange(spec.offset, draws, 'offset', broadcast === undefined ? 'n' : 'prod(noiseShape)')
  return { spec, broadcast, backward: backwardOp || read.backward === true }
}

/**
 * Runs family op `name` (forward, or its gradient when `backward`) on x (dy) with `options`.
 * The same checks and order as tn.dropout: x's type, the options read once, then x for use.
 */
export function familyOp(backend: Backend, name: FamilyOp, x: Float32Array, options: unknown, backward = false): Float32Array {
  const op: OpDef = OPS[name]
  const xName = backward ? 'dy' : 'x'
  checkFloat32Array(xName, x)
  const read = readOptions(options, 'options', op.example, op.keys)
  return runRead(backend, name, read, checkFloat32Array(xName, x), backward)
}

/**
 * The rest of an op once its options are read and x checked: tn.dropout comes here with its own
 * read options when they name a shape or noise shape.
 */
export function runRead(
  backend: Backend,
  name: FamilyOp,
  read: Readonly<Record<string, unknown>>,
  input: Float32Array,
  backward: boolean,
): Float32Array {
  const xName = backward ? 'dy' : 'x'
  const requested = read.out
  const call = checkFamilyCall(OPS[name], read, input, xName, backward)
  const target = requested === undefined ? new Float32Array(input.length) : checkOut(requested, input, xName)
  try {
    backend.noise(input, target, call.spec, call.broadcast, call.backward)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return requested === undefined ? target : (requested as Float32Array)
}
