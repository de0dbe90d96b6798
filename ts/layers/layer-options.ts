/**
 * DropoutDense's options: their types, and their checking. Every public entry point of the layer
 * reads its options object once, up front (validate.ts readOptions: one [[Get]] per known key, a
 * throwing getter becomes ERR_INVALID_ARG), and checks the plain values it got, so no getter of the
 * caller's runs between a check and the use of the value, nor after an array was checked.
 */

import type { Activation, DropoutMode } from '../backend.js'
import { invalidArg } from '../errors.js'
import { checkActivation, checkAlpha } from '../ops/dense-checks.js'
import type { U64 } from '../types.js'
import { checkCount, checkMode, checkP, checkU64, describeValue, readOptions, U64_MAX } from '../validate.js'
import { defaultInitializer, INITIALIZERS, type Initializer } from './init.js'

/** One dropout of the layer: its drop probability and, optionally, its own mode. */
export interface LayerDropoutOptions {
  p: number
  mode?: DropoutMode
  /**
   * 'dropout' (default) or, for the input and output dropouts only, 'alpha': alpha dropout
   * (Klambauer et al. 2017, for selu layers; docs/DROPOUT-FAMILY.md section 3). Alpha has no
   * classic mode (its inference is the identity), so `mode` must then be omitted or 'inverted'.
   */
  kind?: 'dropout' | 'alpha'
  /**
   * This dropout's own seed: its masks come from it instead of the layer's `seed` (at the same
   * stream), in training and in `sample`, where it wins over the draw's seed. A model's dropout
   * layer given a seed (`tn.layers.dropout({ rate, seed })`) arrives here. Default: the layer's.
   */
  seed?: U64
}

export interface DropoutDenseOptions {
  /** Features in (columns of x); at least 1. */
  inputs: number
  /** Features out (columns of y); at least 1. */
  units: number
  /** 'linear' (default), 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid' or 'selu'. */
  activation?: Activation
  /** leakyRelu's slope for z <= 0 (default 0.01). */
  alpha?: number
  /** Dropout on the layer's input: a drop probability, or { p, mode }, or { p, kind: 'alpha' }. */
  inputDropout?: number | LayerDropoutOptions
  /** Dropout on the layer's output (after the activation), as `inputDropout`. */
  outputDropout?: number | LayerDropoutOptions
  /** DropConnect: a fresh mask over the weights for each training batch (no alpha kind). */
  dropConnect?: number | Omit<LayerDropoutOptions, 'kind'>
  /** The mode of the dropouts that do not name their own: 'inverted' (default) or 'classic'. */
  mode?: DropoutMode
  /** The key of every random draw of the layer: its initial weights and its masks. */
  seed: U64
  /**
   * Which block of four streams of the seed the layer uses (default 0): streams 4 * stream + 0
   * (initial weights), + 1 (input mask), + 2 (output mask), + 3 (DropConnect mask). Layers that
   * share a seed need different values here. At most 2^62 - 1.
   */
  stream?: U64
  /**
   * 'heNormal' (default for relu, leakyRelu, gelu), 'lecunNormal' (default for selu) or
   * 'glorotUniform' (default otherwise).
   */
  init?: Initializer
}

export interface ForwardOptions {
  /**
   * true: draw fresh masks (each training forward moves on to unused draws of each stream) and
   * save what `backward` needs. false (default): inference, deterministic: no masks; classic-mode
   * dropouts scale by 1 - p instead (see the class documentation).
   */
  training?: boolean
}

export interface BackwardOptions {
  /**
   * false: skip dL/dx (a network's first layer needs none); `backward` then returns undefined.
   * Default true.
   */
  dx?: boolean
}

/** The layer's tensors by name, as `parameters()` and `gradients()` return them. */
export interface DenseParameters {
  /** Weights [inputs, units] (or their gradient). */
  w: Float32Array
  /** Bias [units] (or its gradient). */
  b: Float32Array
}

/** The layer's streams of its seed, as bigints. */
export interface DenseStreams {
  init: bigint
  input: bigint
  output: bigint
  dropConnect: bigint
}

/**
 * A dropout of the layer after checking; p = 0 is represented as no dropout (it costs nothing).
 * `kind` is present only for an alpha dropout (mode then 'inverted').
 */
export interface LayerDropout {
  p: number
  mode: DropoutMode
  kind?: 'alpha'
}

/** The seeds of the dropouts that were given one of their own (LayerDropoutOptions.seed). */
export interface DropoutSeeds {
  input?: bigint
  output?: bigint
  dropConnect?: bigint
}

/** The three dropouts of a layer, checked. */
export interface LayerDropouts {
  input: Readonly<LayerDropout> | undefined
  output: Readonly<LayerDropout> | undefined
  dropConnect: Readonly<LayerDropout> | undefined
}

/** The constructor's options, read once and checked. */
export interface LayerConfig {
  inputs: number
  units: number
  activation: Activation
  alpha: number
  mode: DropoutMode
  dropouts: LayerDropouts
  seed: bigint
  dropoutSeeds: Readonly<DropoutSeeds>
  streams: Readonly<DenseStreams>
  init: Initializer
}

const OPTION_KEYS: readonly (keyof DropoutDenseOptions)[] = [
  'inputs',
  'units',
  'activation',
  'alpha',
  'inputDropout',
  'outputDropout',
  'dropConnect',
  'mode',
  'seed',
  'stream',
  'init',
]

/** The largest `stream` option: the layer's last stream, 4 * stream + 3, must be below 2^64. */
const MAX_STREAM = U64_MAX >> 2n

/** The constructor's options, in the order their errors have always come. */
export function readLayerConfig(options: unknown): LayerConfig {
  const o = readOptions(options, 'options', '{ inputs: 784, units: 128, seed: 1 }', OPTION_KEYS)
  const inputs = checkPositive('inputs', o.inputs)
  const units = checkPositive('units', o.units)
  if (!Number.isSafeInteger(inputs * units)) {
    throw invalidArg(`inputs * units = ${inputs} * ${units} is more weights than any array can hold`)
  }
  const activation = checkActivation(o.activation)
  const alpha = checkAlpha(o.alpha)
  const mode = o.mode === undefined ? 'inverted' : checkMode(o.mode)
  const input = checkLayerDropout(o.inputDropout, 'inputDropout', mode, true)
  const output = checkLayerDropout(o.outputDropout, 'outputDropout', mode, true)
  const dropConnect = checkLayerDropout(o.dropConnect, 'dropConnect', mode, false)
  const dropouts: LayerDropouts = { input: input.dropout, output: output.dropout, dropConnect: dropConnect.dropout }
  const dropoutSeeds: DropoutSeeds = {}
  if (input.seed !== undefined) dropoutSeeds.input = input.seed
  if (output.seed !== undefined) dropoutSeeds.output = output.seed
  if (dropConnect.seed !== undefined) dropoutSeeds.dropConnect = dropConnect.seed
  const seed = checkU64('seed', o.seed)
  const stream = o.stream === undefined ? 0n : checkU64('stream', o.stream)
  if (stream > MAX_STREAM) {
    throw invalidArg(`stream must be at most 2^62 - 1 (the layer uses streams 4 * stream .. 4 * stream + 3), received ${stream}n`)
  }
  const streams = Object.freeze({ init: 4n * stream, input: 4n * stream + 1n, output: 4n * stream + 2n, dropConnect: 4n * stream + 3n })
  const init = o.init
  if (init !== undefined && !(INITIALIZERS as readonly unknown[]).includes(init)) {
    throw invalidArg(`init must be one of ${INITIALIZERS.map((i) => `'${i}'`).join(', ')}, received ${describeValue(init)}`)
  }
  return {
    inputs,
    units,
    activation,
    alpha,
    mode,
    dropouts,
    seed,
    dropoutSeeds: Object.freeze(dropoutSeeds),
    streams,
    init: (init as Initializer | undefined) ?? defaultInitializer(activation),
  }
}

function checkPositive(name: string, value: unknown): number {
  const n = checkCount(name, value)
  if (n === 0) throw invalidArg(`${name} must be at least 1 for a layer, received 0`)
  return n
}

/**
 * One dropout option: a number (the layer's mode), { p, mode?, seed? }, or where `alphaAllowed`
 * (the input and output) { p, kind: 'alpha', seed? }, which ignores the layer's mode (alpha has no
 * classic form) and refuses a classic one of its own. The seed is kept even at p = 0, for a
 * later `setRates` that turns the dropout on.
 */
function checkLayerDropout(
  value: unknown,
  name: string,
  mode: DropoutMode,
  alphaAllowed: boolean,
): { dropout: LayerDropout | undefined; seed?: bigint } {
  if (value === undefined) return { dropout: undefined }
  let dropout: LayerDropout
  let seed: bigint | undefined
  if (typeof value === 'number') {
    dropout = { p: checkP(value, name), mode }
  } else {
    const keys = alphaAllowed ? ['p', 'mode', 'kind', 'seed'] : ['p', 'mode', 'seed']
    const example = alphaAllowed ? `0.5 or { p: 0.5, mode: "classic" } or { p: 0.1, kind: "alpha" }` : '0.5 or { p: 0.5, mode: "classic" }'
    const o = readOptions(value, name, example, keys)
    const p = checkP(o.p, `${name}.p`)
    seed = o.seed === undefined ? undefined : checkU64(`${name}.seed`, o.seed)
    if (o.kind === 'alpha') {
      if (o.mode !== undefined && o.mode !== 'inverted') {
        throw invalidArg(
          `${name}.mode must be omitted (or 'inverted') with kind 'alpha': alpha dropout has no classic mode ` +
            `(its inference is the identity), received ${describeValue(o.mode)}`,
        )
      }
      dropout = { p, mode: 'inverted', kind: 'alpha' }
    } else if (o.kind === undefined || o.kind === 'dropout') {
      dropout = { p, mode: o.mode === undefined ? mode : checkMode(o.mode, `${name}.mode`) }
    } else {
      throw invalidArg(`${name}.kind must be 'dropout' or 'alpha', received ${describeValue(o.kind)}`)
    }
  }
  const checked = dropout.p === 0 ? undefined : Object.freeze(dropout)
  return seed === undefined ? { dropout: checked } : { dropout: checked, seed }
}

/** forward's `{ training }`, read once. */
export function readTraining(options: unknown): boolean {
  const o = readOptions(options, 'options', '{ training: true }', ['training'])
  if (o.training !== undefined && typeof o.training !== 'boolean') {
    throw invalidArg(`options.training must be a boolean, received ${describeValue(o.training)}`)
  }
  return o.training === true
}

/** backward's `{ dx }`, read once: whether dL/dx is wanted. */
export function readWantDx(options: unknown): boolean {
  const o = readOptions(options, 'options', '{ dx: false }', ['dx'])
  if (o.dx !== undefined && typeof o.dx !== 'boolean') {
    throw invalidArg(`options.dx must be a boolean, received ${describeValue(o.dx)}`)
  }
  return o.dx !== false
}

/** setRates' argument, read once and checked in full: the p of each rate given. */
export function readRates(rates: unknown): { input?: number; output?: number; dropConnect?: number } {
  const r = readOptions(rates, 'rates', '{ outputDropout: 0.5 }', ['inputDropout', 'outputDropout', 'dropConnect'])
  const out: { input?: number; output?: number; dropConnect?: number } = {}
  if (r.inputDropout !== undefined) out.input = checkP(r.inputDropout, 'rates.inputDropout')
  if (r.outputDropout !== undefined) out.output = checkP(r.outputDropout, 'rates.outputDropout')
  if (r.dropConnect !== undefined) out.dropConnect = checkP(r.dropConnect, 'rates.dropConnect')
  return out
}

/** seek's offsets, read once and checked. */
export function readOffsets(offsets: unknown): { input: bigint; output: bigint; dropConnect: bigint } {
  const o = readOptions(offsets, 'offsets', '{ input: 0n, output: 0n, dropConnect: 0n }', ['input', 'output', 'dropConnect'])
  const input = checkU64('offsets.input', o.input)
  const output = checkU64('offsets.output', o.output)
  const dropConnect = checkU64('offsets.dropConnect', o.dropConnect)
  return { input, output, dropConnect }
}
