/**
 * The dropout family's ops in the fuzzer (issue 12): shapes, noise shapes, layouts, rates and
 * draws, valid or hostile, each valid call compared with the TypeScript oracle
 * (test/reference-noise.ts; ts/reference-concrete.ts for concrete dropout). Noise shapes of the
 * layouts are computed here, from the contract (docs/DROPOUT-FAMILY.md section 1), not with
 * ts/noise-shape.ts.
 */

import type { DropoutMode, NoiseKind } from '../../ts/backend.js'
import type { ConcreteBackward } from '../../ts/concrete.js'
import { referenceConcreteDropout, referenceConcreteDropoutBackward } from '../../ts/reference-concrete.js'
import { referenceNoiseKernel } from '../reference-noise.js'
import { describe, type Args } from './arrays.js'
import type { Built } from './ops.js'

const BAD_P = [-0.1, 1.5, NaN, Infinity, '0.5', null, 1n]
const BAD_U64 = [-1n, 2n ** 64n, 1.5, -1, NaN, 2 ** 64, '7', null, {}]
const BAD_MODE = ['bogus', 1, null, 'Inverted']
const BAD_FORMAT = ['NHWC', null, 1, 'channels_last']
const END = 1n << 64n
const KINDS: readonly NoiseKind[] = ['dropout', 'alpha', 'gaussianDropout', 'gaussianNoise']

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)

/** A call being built: its options (as passed) and what the oracle needs to know of them. */
interface Plan {
  kind: NoiseKind
  strength: number
  mode: DropoutMode
  /** The tensor's shape and the resolved noise shape; undefined: element-wise. */
  layout?: { shape: number[]; noise: number[] }
  options: Record<string, unknown>
}

function strength(a: Args, kind: NoiseKind): Record<string, unknown> {
  const r = a.rng
  switch (kind) {
    case 'gaussianNoise':
      return { stddev: a.scalar('stddev', r.pick([0, 1, 0.1, 3, 1e-46, 1e-3]), [-1, NaN, Infinity, 1e39, '0.1', null]) }
    case 'gaussianDropout':
      return { p: a.scalar('p', r.pick([0, 0.5, 0.1, 0.9, (r.u32() / 2 ** 32) * 0.999, 1e-9]), [1, ...BAD_P]) }
    default:
      return { p: a.scalar('p', r.pick([0, 1, 0.5, 0.1, 0.9, r.u32() / 2 ** 32, 1e-9, 0.999999]), BAD_P) }
  }
}

/**
 * Seed, stream, offset and mode. The offset is sometimes the last valid one for the call's draws
 * (prod(noise) for masked kinds, n otherwise) and sometimes one past it (rejected).
 */
function draw(a: Args, o: Record<string, unknown>, draws: number, withMode: boolean): void {
  const r = a.rng
  o.seed = a.scalar('seed', r.chance(0.5) ? BigInt(r.u32()) : (BigInt(r.u32()) << 32n) | BigInt(r.u32()), BAD_U64)
  if (r.chance(0.7)) {
    const last = END - BigInt(Math.max(draws, 1))
    const offset = r.pick([0n, 3n, 2n ** 32n + 5n, BigInt(r.int(1000)), last, last + 1n])
    if (offset >= END || offset + BigInt(draws) > END) a.taint(`offset: ${offset}, past the end of the stream for ${draws} draws`)
    o.offset = a.scalar('offset', offset, BAD_U64)
  }
  if (r.chance(0.4)) o.stream = a.scalar('stream', r.pick([0, 1, 7, 2 ** 40]), BAD_U64)
  if (withMode && r.chance(0.4)) o.mode = a.scalar('mode', r.pick(['inverted', 'classic'] as const), BAD_MODE)
}

/** A shape of rank 1 to 4 (sometimes up to 8) with small dims. */
function shapeOf(a: Args, minRank = 1): number[] {
  const r = a.rng
  const rank = r.chance(0.1) ? Math.max(minRank, 1 + r.int(8)) : minRank + r.int(5 - minRank)
  return Array.from({ length: rank }, () => 1 + r.int(rank > 4 ? 2 : 5))
}

/** `shape` as passed: sometimes hostile (rank 0 or 9, a zero or fractional dim, a wrong product). */
function hostileShape(a: Args, shape: number[]): unknown {
  return a.scalar('shape', shape, [[], [0, ...shape], [1.5, ...shape], 'x', null, [...shape, 2], [1, 1, 1, 1, 1, 1, 1, 1, ...shape]])
}

/** Runs `plan` on an x of n elements (x, out, in place, as the dropout generators do). */
function finish(
  a: Args,
  plan: Plan,
  name: string,
  n: number,
  backward: boolean,
  call: (x: Float32Array, o: unknown) => Float32Array,
): Built {
  const x = a.floats(backward ? 'dy' : 'x', n)
  const opts = plan.options
  const outKind = a.rng.int(3)
  if (outKind === 1) opts.out = x
  else if (outKind === 2) opts.out = a.floats('out', n)
  let expected: Float32Array[] | undefined
  if (a.valid) {
    // Valid: seed and offset are bigints here, stream a number when given.
    const draws = {
      seed: opts.seed as bigint,
      stream: BigInt((opts.stream as number | undefined) ?? 0),
      offset: (opts.offset as bigint | undefined) ?? 0n,
    }
    const spec = { kind: plan.kind, p: plan.strength, mode: plan.mode, ...draws }
    const broadcast = plan.layout === undefined ? undefined : { dims: plan.layout.shape, noise: plan.layout.noise }
    expected = [referenceNoiseKernel(x.slice(), spec, broadcast, backward || opts.backward === true)]
  }
  const options = a.wrap(opts, [x])
  const shown = `{ ${Object.entries(opts)
    .map(
      ([k, v]) =>
        `${k}: ${ArrayBuffer.isView(v) ? `<${v.constructor.name}>` : Array.isArray(v) ? `[${v.map(describe).join(', ')}]` : describe(v)}`,
    )
    .join(', ')} }`
  return {
    text: `tn.${name}(<${n} floats>, ${shown})`,
    call: () => call(x, options),
    outputs: (y) => [a.current(y as Float32Array)],
    expected,
  }
}

/** The resolved strength of the options (valid calls only read it). */
function planOf(kind: NoiseKind, o: Record<string, unknown>, layout?: Plan['layout']): Plan {
  const s = (kind === 'gaussianNoise' ? o.stddev : o.p) as number
  return { kind, strength: s, mode: (o.mode as DropoutMode | undefined) ?? 'inverted', layout, options: o }
}

/** tn.noise: any kind, with a shape and a noise shape for masked kinds (sometimes for Gaussian ones: rejected). */
function noise(a: Args): Built {
  const r = a.rng
  const kind = r.pick(KINDS)
  const masked = kind === 'dropout' || kind === 'alpha'
  const o: Record<string, unknown> = { kind: a.scalar('kind', kind, ['bernoulli', undefined, 3]), ...strength(a, kind) }
  let layout: Plan['layout']
  let n = r.size()
  if (r.chance(0.6)) {
    const shape = shapeOf(a)
    n = prod(shape)
    const given = shape.map((s) => (r.chance(0.5) ? s : r.chance(0.5) ? 1 : null))
    const noiseShape = given.map((m, d) => m ?? shape[d])
    o.shape = hostileShape(a, shape)
    if (r.chance(0.8)) {
      // Hostile: a rank one more or one less, a dim neither the shape's nor 1, not an array.
      o.noiseShape = a.scalar('noiseShape', given, [[...given, 1], given.slice(1), given.map((m, d) => (d === 0 ? shape[0] + 1 : m)), 'x'])
      // A noise shape that broadcasts is refused for Gaussian kinds (element-wise only).
      if (!masked && prod(noiseShape) !== n) a.taint(`${kind} with a broadcasting noiseShape`)
    }
    layout = o.noiseShape === undefined ? { shape, noise: shape } : { shape, noise: noiseShape }
  }
  if (kind !== 'dropout' && r.chance(a.hostility)) {
    o.mode = 'inverted'
    a.taint(`mode for ${kind}`)
  }
  const backward = r.chance(0.5)
  if (r.chance(0.7)) o.backward = a.scalar('backward', backward, ['yes', 1, null])
  draw(a, o, layout === undefined ? n : prod(layout.noise), kind === 'dropout')
  return finish(a, planOf(kind, o, masked ? layout : undefined), 'noise', n, false, (x, opts) => a.tn.noise(x, opts as never))
}

/** tn.dropout / dropoutBackward or tn.alphaDropout / alphaDropoutBackward with shape and noiseShape. */
function shaped(a: Args, kind: 'dropout' | 'alpha'): Built {
  const r = a.rng
  const shape = shapeOf(a)
  const given = shape.map((s) => (r.chance(0.4) ? s : r.chance(0.7) ? 1 : null))
  const noiseShape = given.map((m, d) => m ?? shape[d])
  const o: Record<string, unknown> = { ...strength(a, kind), shape: hostileShape(a, shape) }
  if (r.chance(0.9)) o.noiseShape = a.scalar('noiseShape', given, [[...given, 1], given.map((m, d) => (d === 0 ? shape[0] + 1 : m)), null])
  const layout = { shape, noise: o.noiseShape === undefined ? shape : noiseShape }
  draw(a, o, prod(layout.noise), kind === 'dropout')
  const backward = r.chance(0.5)
  const name = `${kind === 'dropout' ? 'dropout' : 'alphaDropout'}${backward ? 'Backward' : ''}` as const
  return finish(a, planOf(kind, o, layout), name, prod(shape), backward, (x, opts) => a.tn[name](x, opts as never))
}

type Format = 'channelsLast' | 'channelsFirst'

/** Spatial dropout 1d/2d/3d: batched or not, either format; sometimes a wrong rank or format. */
function spatial(a: Args): Built {
  const r = a.rng
  const dims = (1 + r.int(3)) as 1 | 2 | 3
  const batched = r.chance(0.7)
  const format = r.pick<Format | undefined>(['channelsLast', 'channelsFirst', undefined])
  const positions = Array.from({ length: dims }, () => 1 + r.int(4))
  const c = 1 + r.int(5)
  const inner = format === 'channelsFirst' ? [c, ...positions] : [...positions, c]
  const shape = batched ? [1 + r.int(3), ...inner] : inner
  // The channel's dim and the batch's are drawn; every spatial position shares them.
  const channel = format === 'channelsFirst' ? (batched ? 1 : 0) : shape.length - 1
  const noise = shape.map((s, d) => (d === channel || (batched && d === 0) ? s : 1))
  const o: Record<string, unknown> = {
    ...strength(a, 'dropout'),
    shape: a.scalar('shape', shape, [[...shape, 1, 1], [], null, [0, ...shape]]),
  }
  if (format !== undefined || r.chance(a.hostility)) o.dataFormat = a.scalar('dataFormat', format ?? 'channelsLast', BAD_FORMAT)
  draw(a, o, prod(noise), true)
  const backward = r.chance(0.5)
  const name = `spatialDropout${dims}d${backward ? 'Backward' : ''}` as const
  return finish(a, planOf('dropout', o, { shape, noise }), name, prod(shape), backward, (x, opts) => a.tn[name](x, opts as never))
}

/** Locked dropout [batch, time, features] or time-major. */
function locked(a: Args): Built {
  const r = a.rng
  const shape = [1 + r.int(4), 1 + r.int(5), 1 + r.int(5)]
  const timeMajor = r.pick([true, false, undefined])
  const noise = timeMajor === true ? [1, shape[1], shape[2]] : [shape[0], 1, shape[2]]
  const o: Record<string, unknown> = { ...strength(a, 'dropout'), shape: a.scalar('shape', shape, [[...shape, 1], shape.slice(1), null]) }
  if (timeMajor !== undefined) o.timeMajor = a.scalar('timeMajor', timeMajor, ['yes', 1, null])
  draw(a, o, prod(noise), true)
  const backward = r.chance(0.5)
  const name = backward ? 'lockedDropoutBackward' : 'lockedDropout'
  return finish(a, planOf('dropout', o, { shape, noise }), name, prod(shape), backward, (x, opts) => a.tn[name](x, opts as never))
}

/** Feature alpha dropout, ranks 2 to 5, either format. */
function featureAlpha(a: Args): Built {
  const r = a.rng
  const shape = shapeOf(a, 2)
  const format = r.pick<Format | undefined>(['channelsLast', 'channelsFirst', undefined])
  const channel = format === 'channelsFirst' ? 1 : shape.length - 1
  const noise = shape.map((s, d) => (d === 0 || d === channel ? s : 1))
  const o: Record<string, unknown> = { ...strength(a, 'alpha'), shape: a.scalar('shape', shape, [shape.slice(0, 1), [], null]) }
  if (format !== undefined) o.dataFormat = a.scalar('dataFormat', format, BAD_FORMAT)
  draw(a, o, prod(noise), false)
  const backward = r.chance(0.5)
  const name = backward ? 'featureAlphaDropoutBackward' : 'featureAlphaDropout'
  return finish(a, planOf('alpha', o, { shape, noise }), name, prod(shape), backward, (x, opts) => a.tn[name](x, opts as never))
}

/** Gaussian dropout (forward or backward) and Gaussian noise, element-wise. */
function gaussian(a: Args, kind: 'gaussianDropout' | 'gaussianNoise'): Built {
  const n = a.rng.size()
  const o: Record<string, unknown> = strength(a, kind)
  draw(a, o, n, false)
  const backward = kind === 'gaussianDropout' && a.rng.chance(0.5)
  const name = kind === 'gaussianNoise' ? 'gaussianNoise' : backward ? 'gaussianDropoutBackward' : 'gaussianDropout'
  return finish(a, planOf(kind, o), name, n, backward, (x, opts) => a.tn[name](x, opts as never))
}

/**
 * Concrete dropout (docs/DROPOUT-FAMILY.md section 9), forward or backward: rates in (0, 1),
 * temperatures in [1e-6, 1e6], out absent, in place or apart (the backward's sometimes x itself:
 * rejected). Backward's outputs are dx and the two sums.
 */
function concrete(a: Args): Built {
  const r = a.rng
  const n = r.size()
  const backward = r.chance(0.5)
  const o: Record<string, unknown> = {
    p: a.scalar('p', r.pick([0.5, 0.1, 0.9, 1e-6, 1 - 1e-6, 0.01 + (r.u32() / 2 ** 32) * 0.98]), [0, 1, ...BAD_P]),
  }
  if (r.chance(0.5)) o.temperature = a.scalar('temperature', r.pick([0.1, 1e-6, 1e6, 0.5, 2]), [0, 1e-7, 2e6, NaN, '0.1', null])
  draw(a, o, n, false)
  const dy = backward ? a.floats('dy', n) : undefined
  const x = a.floats('x', n)
  const src = dy ?? x
  const outKind = r.int(backward ? 4 : 3)
  if (outKind === 1) o.out = src
  else if (outKind === 2) o.out = a.floats('out', n)
  else if (outKind === 3) {
    a.taint('out: x, which the backward reads')
    o.out = x
  }
  let expected: Built['expected']
  if (a.valid) {
    // Valid: seed and offset are bigints here, stream a number when given.
    const options = {
      p: o.p as number,
      temperature: o.temperature as number | undefined,
      seed: o.seed as bigint,
      stream: BigInt((o.stream as number | undefined) ?? 0),
      offset: (o.offset as bigint | undefined) ?? 0n,
    }
    if (dy === undefined) expected = [referenceConcreteDropout(x.slice(), options)]
    else {
      const back = referenceConcreteDropoutBackward(dy.slice(), x.slice(), options)
      expected = [back.dx, back.sumDyY, back.sumDyYS]
    }
  }
  const options = a.wrap(o, dy === undefined ? [x] : [dy, x])
  const shown = `{ ${Object.entries(o)
    .map(([k, v]) => `${k}: ${ArrayBuffer.isView(v) ? `<${v.constructor.name}>` : describe(v)}`)
    .join(', ')} }`
  if (dy === undefined) {
    return {
      text: `tn.concreteDropout(<${n} floats>, ${shown})`,
      call: () => a.tn.concreteDropout(x, options as never),
      outputs: (y) => [a.current(y as Float32Array)],
      expected,
    }
  }
  return {
    text: `tn.concreteDropoutBackward(<${n} floats>, <${n} floats>, ${shown})`,
    call: () => a.tn.concreteDropoutBackward(dy, x, options as never),
    outputs: (result) => {
      const back = result as ConcreteBackward
      return [a.current(back.dx), back.sumDyY, back.sumDyYS]
    },
    expected,
  }
}

/** The family's generators, registered in ops.ts's GENERATORS. */
export const FAMILY_GENERATORS: Record<string, (a: Args) => Built> = {
  noise,
  dropoutNoiseShape: (a) => shaped(a, 'dropout'),
  alphaDropout: (a) => shaped(a, 'alpha'),
  spatialDropout: spatial,
  lockedDropout: locked,
  featureAlphaDropout: featureAlpha,
  gaussianDropout: (a) => gaussian(a, 'gaussianDropout'),
  gaussianNoise: (a) => gaussian(a, 'gaussianNoise'),
  concreteDropout: concrete,
}
