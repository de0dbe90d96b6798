/**
 * Arguments as the WASM exports take them: u64 values as (lo, hi) u32 halves, flags as 0 or 1,
 * dimensions as u32, and the dense exports' spec block (crates/thinnet-wasm/src/spec_block.rs).
 * These check only what the transport needs (types, bigint and u32 ranges); the module checks the
 * values (p in [0, 1], the activation's name).
 */

import type {
  ConcreteConstants,
  ConcreteKernelSpec,
  DenseArgs,
  DenseInputSpec,
  DropoutMode,
  KernelDropConnect,
  KernelSpec,
  NoiseBroadcast,
  NoiseKernelSpec,
  NoiseKind,
} from '../backend.js'
import { invalidArg } from '../errors.js'
import { describeValue } from '../validate.js'
import { ScratchBytes } from './scratch-bytes.js'

const TWO_POW_32 = 2n ** 32n
const TWO_POW_64 = 2n ** 64n

/** The dense exports' spec block: three 40-byte records (input, output, DropConnect). */
const RECORD_BYTES = 40
export const BLOCK_BYTES = 3 * RECORD_BYTES
const KIND_SAMPLE = 1
const KIND_MEAN = 2
/** Alpha dropout (crates/thinnet-core/src/boundary/spec_block.rs): input and output records only. */
const KIND_ALPHA = 3
/** Gaussian dropout and noise (issue 12): the input record only; p is the rate or the stddev. */
const KIND_GAUSSIAN: Readonly<Record<string, number>> = { gaussianDropout: 4, gaussianNoise: 5 }
/** Concrete dropout: the input record only, its constants as float32 at bytes 4, 8 and 12. */
const KIND_CONCRETE = 6

/** The bytes each encoder below reuses from call to call (scratch-bytes.ts says why). */
const RECORD_SCRATCH = new ScratchBytes(RECORD_BYTES)
const HEADER_SCRATCH = new ScratchBytes(BLOCK_BYTES + 64)
const DIMS_SCRATCH = new ScratchBytes(256)
const PARAMS_SCRATCH = new ScratchBytes(64)
const UTF8 = new TextEncoder()

/** A boolean as the 0 or 1 the exports take. */
export function flag(name: string, value: unknown): number {
  if (value === true) return 1
  if (value === false) return 0
  throw invalidArg(`${name} must be a boolean, received ${describeValue(value)}`)
}

export function modeFlag(mode: DropoutMode | undefined, name = 'mode'): number {
  if (mode === 'inverted') return 0
  if (mode === 'classic') return 1
  throw invalidArg(`${name} must be 'inverted' or 'classic', received ${describeValue(mode)}`)
}

/** A dimension the exports take as a wasm i32 read unsigned: an integer in [0, 2^32). */
export function u32Arg(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 32) {
    throw invalidArg(`${name} must be an integer in [0, 2^32) on the WASM backend, received ${describeValue(value)}`)
  }
  return value
}

export function shapeOf(args: DenseArgs): [number, number, number] {
  return [u32Arg('rows', args.rows), u32Arg('inputs', args.inputs), u32Arg('units', args.units)]
}

/** A u64 as the (lo, hi) u32 halves the exports take. */
export function split(name: string, value: bigint): [number, number] {
  checkU64(name, value)
  return [Number(value % TWO_POW_32), Number(value / TWO_POW_32)]
}

/** `value` if it is a u64, else an error naming `name` (or `name.field`: built only for the message). */
function checkU64(name: string, value: bigint, field?: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= TWO_POW_64) {
    const what = field === undefined ? name : `${name}.${field}`
    throw invalidArg(`${what} must be a bigint in [0, 2^64), received ${describeValue(value)}`)
  }
  return value
}

/**
 * The bytes the dense exports read besides the arrays: the spec block (per dropout, kind u32
 * (1 sample, 2 mean, 3 alpha, 4 gaussianDropout, 5 gaussianNoise, 6 concrete), mode u32, p f64, seed, stream and offset as
 * (lo, hi) u32 pairs, little-endian; kind 6 holds its bias, invT and scale as float32 where mode and p are), then the
 * activation's name in UTF-8.
 */
export function denseHeader(args: DenseArgs): { bytes: Uint8Array; nameBytes: number } {
  if (typeof args.activation !== 'string') {
    throw invalidArg(`activation must be a string naming an activation, received ${describeValue(args.activation)}`)
  }
  const name = utf8(args.activation)
  const bytes = HEADER_SCRATCH.fill(BLOCK_BYTES + name.length, (view) => writeDenseHeader(view, args, name))
  return { bytes, nameBytes: name.length }
}

/** The activation names encoded so far (a few: the core knows seven), read-only once made. */
const NAME_BYTES = new Map<string, Uint8Array>()
const MAX_CACHED_NAMES = 32

/**
 * A name's UTF-8 bytes, encoded once per name rather than once per call (TextEncoder calls into
 * Node; see u64Value in ts/validate.ts for what the facade's per-call work cost).
 */
function utf8(name: string): Uint8Array {
  let bytes = NAME_BYTES.get(name)
  if (bytes === undefined) {
    bytes = UTF8.encode(name)
    if (NAME_BYTES.size < MAX_CACHED_NAMES) NAME_BYTES.set(name, bytes)
  }
  return bytes
}

function writeDenseHeader(view: DataView, args: DenseArgs, name: Uint8Array): void {
  if (args.inputDropout !== undefined) writeSample(view, 0, 'inputDropout', args.inputDropout, 'input')
  if (args.outputDropout !== undefined) writeSample(view, RECORD_BYTES, 'outputDropout', args.outputDropout, 'output')
  const dc: KernelDropConnect | undefined = args.dropConnect
  if (dc !== undefined) {
    // A backend caller (not the facade, which checked it) may pass null or an unknown kind.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (dc?.kind === 'sample') {
      writeSample(view, 2 * RECORD_BYTES, 'dropConnect', dc.spec)
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
    } else if (dc?.kind === 'mean') {
      view.setUint32(2 * RECORD_BYTES, KIND_MEAN, true)
      view.setFloat64(2 * RECORD_BYTES + 8, checkNumber('dropConnect', dc.p), true)
    } else {
      throw invalidArg(`dropConnect.kind must be 'sample' or 'mean', received ${describeValue((dc as { kind?: unknown } | null)?.kind)}`)
    }
  }
  for (let i = 0; i < name.length; i++) view.setUint8(BLOCK_BYTES + i, name[i])
}

/**
 * One sampled dropout as a 40-byte record of the spec block's layout: the N-API addon's dropout
 * calls take it (crates/thinnet-core/src/boundary/spec_block.rs parse_record_bytes).
 */
export function specRecord(spec: KernelSpec, name = 'spec'): Uint8Array {
  return RECORD_SCRATCH.fill(RECORD_BYTES, (view) => writeSample(view, 0, name, spec))
}

/**
 * Writes one sampled dropout's record at byte `at` of the spec block: kind 1 (dropout, with its
 * mode) or, in the input and output slots, kind 3 (alpha, mode unused); in the input slot also
 * kinds 4 and 5 (Gaussian dropout and noise, mode unused, p the rate or the stddev) and 6 (concrete
 * dropout: bias, invT and scale as float32 at bytes 4, 8 and 12, in the mode and p fields).
 */
function writeSample(view: DataView, at: number, name: string, spec: DenseInputSpec, slot?: 'input' | 'output'): void {
  // A backend caller (not the facade, which checked it) may pass anything.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (typeof spec !== 'object' || spec === null) {
    throw invalidArg(`${name} must be a dropout spec or undefined, received ${describeValue(spec)}`)
  }
  const kind: unknown = spec.kind
  const gaussian = typeof kind === 'string' ? KIND_GAUSSIAN[kind] : undefined
  if (kind === 'alpha' && slot !== undefined) {
    view.setUint32(at, KIND_ALPHA, true)
  } else if (gaussian !== undefined && slot === 'input') {
    // The core checks p (the rate, or the stddev) for the kind.
    view.setUint32(at, gaussian, true)
    view.setFloat64(at + 8, checkNumber(name, spec.p), true)
    writeDraw(view, at, name, spec)
    return
  } else if (kind === 'concrete' && slot === 'input') {
    view.setUint32(at, KIND_CONCRETE, true)
    writeConstants(view, at + 4, `${name}.concrete`, spec.concrete)
    writeDraw(view, at, name, spec)
    return
  } else if (kind === undefined || kind === 'dropout') {
    view.setUint32(at, KIND_SAMPLE, true)
    const mode = spec.mode
    // A backend caller may pass any mode (see above): modeFlag names it in the message.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    view.setUint32(at + 4, mode === 'inverted' ? 0 : mode === 'classic' ? 1 : modeFlag(mode, `${name}.mode`), true)
  } else {
    const kinds =
      slot === 'input'
        ? "'dropout', 'alpha', 'gaussianDropout', 'gaussianNoise' or 'concrete'"
        : slot === 'output'
          ? "'dropout' or 'alpha'"
          : "'dropout'"
    throw invalidArg(`${name}.kind must be ${kinds}, received ${describeValue(kind)}`)
  }
  view.setFloat64(at + 8, checkNumber(name, spec.p), true)
  writeDraw(view, at, name, spec)
}

/** A record's seed, stream and offset (bytes 16 to 39), each as two little-endian u32 halves. */
function writeDraw(view: DataView, at: number, name: string, spec: { seed: bigint; stream: bigint; offset: bigint }): void {
  view.setBigUint64(at + 16, checkU64(name, spec.seed, 'seed'), true)
  view.setBigUint64(at + 24, checkU64(name, spec.stream, 'stream'), true)
  view.setBigUint64(at + 32, checkU64(name, spec.offset, 'offset'), true)
}

/**
 * The p of `record` for the spec block: a number (its range is checked by the module, with the
 * same message). `record.p` is built only for the message.
 */
function checkNumber(record: string, value: number): number {
  if (typeof value !== 'number') {
    throw invalidArg(`${record}.p must be a number in [0, 1], received ${describeValue(value)}`)
  }
  return value
}

/**
 * A parameter block of the optimizer exports: float64 words as the core's boundary reads them
 * (crates/thinnet-core/src/boundary/calls.rs: SGD_WORDS, ADAM_WORDS), as header bytes.
 */
export function float64Block(words: number[]): Uint8Array {
  return PARAMS_SCRATCH.fill(8 * words.length, (view) => words.forEach((word, i) => view.setFloat64(8 * i, word, true)))
}

/** The kinds of a dropout-family record (crates/thinnet-core/src/boundary/noise.rs). */
const NOISE_KINDS: Readonly<Record<NoiseKind, number>> = { dropout: 1, alpha: 3, gaussianDropout: 4, gaussianNoise: 5 }

/**
 * The header of a dropout-family call, as both bindings take it: the 40-byte record (a dense
 * record's layout, with kinds 1 dropout, 3 alpha, 4 gaussianDropout, 5 gaussianNoise; p the
 * stddev for gaussianNoise), then the shape and noise shape as float64 words (none when
 * element-wise), little-endian.
 */
export function noiseHeader(spec: NoiseKernelSpec, broadcast: NoiseBroadcast | undefined): { record: Uint8Array; dims: Uint8Array } {
  const record = RECORD_SCRATCH.fill(RECORD_BYTES, (view) => writeNoiseRecord(view, spec))
  const words = broadcast === undefined ? [] : [...broadcast.dims, ...broadcast.noise]
  const dims = DIMS_SCRATCH.fill(8 * words.length, (view) => words.forEach((d, i) => view.setFloat64(8 * i, d, true)))
  return { record, dims }
}

function writeNoiseRecord(view: DataView, spec: NoiseKernelSpec): void {
  // A backend caller (not the facade, which checked it) may pass anything.
  const kind = (NOISE_KINDS as Partial<Record<string, number>>)[spec.kind]
  if (kind === undefined) {
    throw invalidArg(`spec.kind must be 'dropout', 'alpha', 'gaussianDropout' or 'gaussianNoise', received ${describeValue(spec.kind)}`)
  }
  view.setUint32(0, kind, true)
  if (spec.kind === 'dropout') view.setUint32(4, modeFlag(spec.mode, 'spec.mode'), true)
  if (typeof spec.p !== 'number') throw invalidArg(`spec.p must be a number, received ${describeValue(spec.p)}`)
  view.setFloat64(8, spec.p, true)
  writeDraw(view, 0, 'spec', spec)
}

/**
 * Concrete dropout's 40-byte record, as both bindings take it (crates/thinnet-core/src/boundary/
 * concrete.rs): bias, invT and scale as float32 at bytes 0, 4 and 8 (the facade's constants, which
 * are float32 values already: anything else is refused rather than rounded), 4 bytes unused, then
 * seed, stream and offset where the family's record has them. The core checks the values.
 */
export function concreteRecord(spec: ConcreteKernelSpec): Uint8Array {
  return RECORD_SCRATCH.fill(RECORD_BYTES, (view) => {
    writeConstants(view, 0, 'spec', spec)
    writeDraw(view, 0, 'spec', spec)
  })
}

/**
 * Concrete dropout's bias, invT and scale as float32 at bytes at, at + 4 and at + 8: float32
 * values already (anything else is refused rather than rounded); the core checks the values.
 */
function writeConstants(view: DataView, at: number, name: string, constants: ConcreteConstants | undefined): void {
  // A backend caller (not the facade, which made them) may pass anything.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (typeof constants !== 'object' || constants === null) {
    throw invalidArg(`${name} must hold concrete dropout's bias, invT and scale, received ${describeValue(constants)}`)
  }
  ;(['bias', 'invT', 'scale'] as const).forEach((key, i) => {
    const value: unknown = constants[key]
    if (typeof value !== 'number' || !(Math.fround(value) === value || Number.isNaN(value))) {
      throw invalidArg(`${name}.${key} must be a float32 number (Math.fround of a number), received ${describeValue(value)}`)
    }
    view.setFloat32(at + 4 * i, value, true)
  })
}
