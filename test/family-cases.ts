/**
 * The dropout family's facade calls as data, for test/family-ops.test.ts: each case is one op
 * (a method of the facade or tn.noise, forward or backward) with its member, tensor layout and
 * options, runnable at any draw, next to the oracle's answer (test/reference-noise.ts over
 * ts/reference-family.ts). Noise shapes are written out here by hand, not derived with
 * ts/noise-shape.ts, so the facade's spatial, locked and feature layouts are checked too.
 */

import type { DropoutMode, NoiseKind } from '../ts/backend.js'
import type { Thinnet } from '../ts/index.js'
import { referenceNoiseKernel } from './reference-noise.js'

/** A member and its strength: p, or the stddev for Gaussian noise. */
export interface Member {
  kind: NoiseKind
  strength: number
  mode?: DropoutMode
}

export interface Draw {
  seed: bigint
  stream: bigint
  offset: bigint
}

/** A tensor's shape, its resolved noise shape, and the noiseShape option as given (nulls allowed). */
export interface Layout {
  shape: number[]
  noise: number[]
  given?: (number | null)[]
}

export interface FamilyCase {
  label: string
  member: Member
  backward: boolean
  /** undefined: element-wise (the call consumes x.length draws). */
  layout?: Layout
  /** The facade call at draw `d`, into `out` when given. */
  run(tn: Thinnet, x: Float32Array, d: Draw, out?: Float32Array): Float32Array
  /** The oracle's result at draw `d`. */
  want(x: Float32Array, d: Draw): Float32Array
}

/** A case with a tensor layout (spatial, locked, feature alpha). */
export type LaidOutCase = FamilyCase & { layout: Layout }

export const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)

/** The oracle: `member` (its gradient when `backward`) on x, masks over `layout.noise`. */
export function oracle(
  x: Float32Array,
  m: Member,
  d: Draw,
  backward: boolean,
  layout?: { shape: number[]; noise: number[] },
): Float32Array {
  const spec = { kind: m.kind, p: m.strength, mode: m.mode ?? 'inverted', ...d }
  return referenceNoiseKernel(x, spec, layout === undefined ? undefined : { dims: layout.shape, noise: layout.noise }, backward)
}

type Call = (tn: Thinnet, x: Float32Array, options: Record<string, unknown>) => Float32Array

function make(label: string, member: Member, backward: boolean, layout: Layout | undefined, call: Call, options: Record<string, unknown>) {
  const c: FamilyCase = {
    label,
    member,
    backward,
    layout,
    run: (tn, x, d, out) => call(tn, x, { ...options, ...d, ...(out === undefined ? {} : { out }) }),
    want: (x, d) => oracle(x, member, d, backward, layout),
  }
  return c
}

/** Each member's own methods, forward and backward (Gaussian noise has no backward method). */
const METHODS: Record<NoiseKind, [string, Call, Call | undefined]> = {
  dropout: ['dropout', (tn, x, o) => tn.dropout(x, o as never), (tn, x, o) => tn.dropoutBackward(x, o as never)],
  alpha: ['alphaDropout', (tn, x, o) => tn.alphaDropout(x, o as never), (tn, x, o) => tn.alphaDropoutBackward(x, o as never)],
  gaussianDropout: [
    'gaussianDropout',
    (tn, x, o) => tn.gaussianDropout(x, o as never),
    (tn, x, o) => tn.gaussianDropoutBackward(x, o as never),
  ],
  gaussianNoise: ['gaussianNoise', (tn, x, o) => tn.gaussianNoise(x, o as never), undefined],
}
const noiseCall: Call = (tn, x, o) => tn.noise(x, o as never)

const SPATIAL: Record<1 | 2 | 3, [Call, Call]> = {
  1: [(tn, x, o) => tn.spatialDropout1d(x, o as never), (tn, x, o) => tn.spatialDropout1dBackward(x, o as never)],
  2: [(tn, x, o) => tn.spatialDropout2d(x, o as never), (tn, x, o) => tn.spatialDropout2dBackward(x, o as never)],
  3: [(tn, x, o) => tn.spatialDropout3d(x, o as never), (tn, x, o) => tn.spatialDropout3dBackward(x, o as never)],
}
const LOCKED: [Call, Call] = [(tn, x, o) => tn.lockedDropout(x, o as never), (tn, x, o) => tn.lockedDropoutBackward(x, o as never)]
const FEATURE: [Call, Call] = [
  (tn, x, o) => tn.featureAlphaDropout(x, o as never),
  (tn, x, o) => tn.featureAlphaDropoutBackward(x, o as never),
]

function strengthOf(m: Member): Record<string, unknown> {
  const s = m.kind === 'gaussianNoise' ? { stddev: m.strength } : { p: m.strength }
  return m.mode === undefined ? s : { ...s, mode: m.mode }
}

const dims = (s: readonly (number | null)[]) => `[${s.map(String).join(', ')}]`
const memberText = (m: Member) => `${m.kind === 'gaussianNoise' ? 'stddev' : 'p'} ${m.strength}${m.mode === undefined ? '' : ` ${m.mode}`}`

/** The member by its method and by tn.noise, forward and backward; with a layout, its shape options too. */
function byMethodAndNoise(m: Member, layout: Layout | undefined): FamilyCase[] {
  const shapeOptions = layout === undefined ? {} : { shape: layout.shape, noiseShape: layout.given ?? layout.noise }
  const where = layout === undefined ? '' : ` ${dims(layout.shape)} / ${dims(layout.given ?? layout.noise)}`
  const [name, forward, backward] = METHODS[m.kind]
  const cases = [make(`tn.${name}${where} ${memberText(m)}`, m, false, layout, forward, { ...strengthOf(m), ...shapeOptions })]
  if (backward !== undefined) {
    cases.push(make(`tn.${name}Backward${where} ${memberText(m)}`, m, true, layout, backward, { ...strengthOf(m), ...shapeOptions }))
  }
  for (const b of [false, true]) {
    const options = { kind: m.kind, ...strengthOf(m), ...shapeOptions, backward: b }
    cases.push(make(`tn.noise(${m.kind}${b ? ', backward' : ''})${where} ${memberText(m)}`, m, b, layout, noiseCall, options))
  }
  return cases
}

type Format = 'channelsLast' | 'channelsFirst' | undefined

/** Spatial dropout layouts per dims: [dataFormat option, shape, its noise shape], batched and not. */
const SPATIAL_LAYOUTS: Record<1 | 2 | 3, [Format, number[], number[]][]> = {
  1: [
    ['channelsLast', [3, 7, 5], [3, 1, 5]],
    ['channelsFirst', [3, 5, 7], [3, 5, 1]],
    [undefined, [7, 6], [1, 6]],
    ['channelsFirst', [6, 7], [6, 1]],
  ],
  2: [
    [undefined, [2, 4, 3, 5], [2, 1, 1, 5]],
    ['channelsFirst', [2, 5, 4, 3], [2, 5, 1, 1]],
    ['channelsLast', [4, 3, 6], [1, 1, 6]],
    ['channelsFirst', [6, 4, 3], [6, 1, 1]],
  ],
  3: [
    ['channelsLast', [2, 3, 2, 4, 5], [2, 1, 1, 1, 5]],
    ['channelsFirst', [2, 5, 3, 2, 4], [2, 5, 1, 1, 1]],
    [undefined, [3, 2, 4, 6], [1, 1, 1, 6]],
    ['channelsFirst', [6, 3, 2, 4], [6, 1, 1, 1]],
  ],
}

function spatialCase(d: 1 | 2 | 3, format: Format, shape: number[], noise: number[], m: Member, backward: boolean): LaidOutCase {
  const options = { ...strengthOf(m), shape, ...(format === undefined ? {} : { dataFormat: format }) }
  const label = `tn.spatialDropout${d}d${backward ? 'Backward' : ''} ${dims(shape)} ${format ?? '(default format)'} ${memberText(m)}`
  return { ...make(label, m, backward, { shape, noise }, SPATIAL[d][backward ? 1 : 0], options), layout: { shape, noise } }
}

function lockedCase(timeMajor: boolean | undefined, shape: number[], noise: number[], m: Member, backward: boolean): LaidOutCase {
  const options = { ...strengthOf(m), shape, ...(timeMajor === undefined ? {} : { timeMajor }) }
  const label = `tn.lockedDropout${backward ? 'Backward' : ''} ${dims(shape)} timeMajor ${String(timeMajor)} ${memberText(m)}`
  return { ...make(label, m, backward, { shape, noise }, LOCKED[backward ? 1 : 0], options), layout: { shape, noise } }
}

function featureCase(format: Format, shape: number[], noise: number[], p: number, backward: boolean): LaidOutCase {
  const m: Member = { kind: 'alpha', strength: p }
  const options = { p, shape, ...(format === undefined ? {} : { dataFormat: format }) }
  const label = `tn.featureAlphaDropout${backward ? 'Backward' : ''} ${dims(shape)} ${format ?? '(default format)'} p ${p}`
  return { ...make(label, m, backward, { shape, noise }, FEATURE[backward ? 1 : 0], options), layout: { shape, noise } }
}

const MODES: DropoutMode[] = ['inverted', 'classic']
const BOTH = [false, true]

export const CATALOGUE = {
  /** The member element-wise (no shape), by its method and tn.noise, forward and backward. */
  elementwise: (m: Member) => byMethodAndNoise(m, undefined),

  /** A masked member (dropout or alpha) with `shape` and `noiseShape`, by its method and tn.noise. */
  shaped: (m: Member, layout: Layout) => byMethodAndNoise(m, layout),

  /** Every spatial layout of 1d, 2d and 3d, both modes, forward and backward, at rate p. */
  spatial: (p: number): LaidOutCase[] =>
    ([1, 2, 3] as const).flatMap((d) =>
      SPATIAL_LAYOUTS[d].flatMap(([format, shape, noise]) =>
        MODES.flatMap((mode) => BOTH.map((b) => spatialCase(d, format, shape, noise, { kind: 'dropout', strength: p, mode }, b))),
      ),
    ),

  /** Locked dropout batch-major (timeMajor false or left out) and time-major, both modes. */
  locked: (p: number): LaidOutCase[] =>
    (
      [
        [false, [4, 6, 5], [4, 1, 5]],
        [undefined, [3, 7, 33], [3, 1, 33]],
        [true, [6, 4, 5], [1, 4, 5]],
        [true, [7, 3, 33], [1, 3, 33]],
      ] as const
    ).flatMap(([timeMajor, shape, noise]) =>
      MODES.flatMap((mode) => BOTH.map((b) => lockedCase(timeMajor, [...shape], [...noise], { kind: 'dropout', strength: p, mode }, b))),
    ),

  /** Feature alpha dropout in both layouts, ranks 2 to 5. */
  featureAlpha: (p: number): LaidOutCase[] =>
    (
      [
        ['channelsFirst', [3, 4, 5], [3, 4, 1]],
        ['channelsFirst', [2, 3, 4, 5], [2, 3, 1, 1]],
        ['channelsLast', [3, 5, 4], [3, 1, 4]],
        ['channelsLast', [2, 3, 4, 5], [2, 1, 1, 5]],
        [undefined, [2, 2, 2, 2, 6], [2, 1, 1, 1, 6]],
        ['channelsFirst', [6, 7], [6, 7]],
        ['channelsLast', [6, 7], [6, 7]],
      ] as const
    ).flatMap(([format, shape, noise]) => BOTH.map((b) => featureCase(format, [...shape], [...noise], p, b))),

  /**
   * Every op of the family once or more on 120 elements, forward and backward: masked kinds at
   * rate p (Gaussian dropout too when p < 1), Gaussian noise at `stddev`.
   */
  every(p: number, stddev: number): FamilyCase[] {
    const n4 = { shape: [2, 3, 4, 5], noise: [2, 1, 4, 1] }
    const cases = [
      ...byMethodAndNoise({ kind: 'dropout', strength: p, mode: 'inverted' }, n4),
      ...byMethodAndNoise({ kind: 'dropout', strength: p, mode: 'classic' }, undefined),
      ...byMethodAndNoise({ kind: 'alpha', strength: p }, { shape: [2, 3, 4, 5], noise: [1, 3, 1, 5], given: [1, null, 1, null] }),
      ...byMethodAndNoise({ kind: 'alpha', strength: p }, undefined),
      ...byMethodAndNoise({ kind: 'gaussianNoise', strength: stddev }, undefined),
    ]
    if (p < 1) cases.push(...byMethodAndNoise({ kind: 'gaussianDropout', strength: p }, undefined))
    const spatial: [1 | 2 | 3, Format, number[], number[]][] = [
      [1, 'channelsLast', [2, 12, 5], [2, 1, 5]],
      [1, 'channelsFirst', [2, 5, 12], [2, 5, 1]],
      [1, undefined, [24, 5], [1, 5]],
      [2, 'channelsLast', [2, 3, 4, 5], [2, 1, 1, 5]],
      [2, 'channelsFirst', [2, 5, 3, 4], [2, 5, 1, 1]],
      [2, 'channelsFirst', [5, 4, 6], [5, 1, 1]],
      [3, undefined, [2, 3, 2, 2, 5], [2, 1, 1, 1, 5]],
      [3, 'channelsFirst', [2, 5, 3, 2, 2], [2, 5, 1, 1, 1]],
      [3, 'channelsLast', [3, 2, 4, 5], [1, 1, 1, 5]],
    ]
    spatial.forEach(([d, format, shape, noise], i) => {
      const m: Member = { kind: 'dropout', strength: p, mode: MODES[i % 2] }
      for (const b of BOTH) cases.push(spatialCase(d, format, shape, noise, m, b))
    })
    for (const b of BOTH) {
      cases.push(lockedCase(undefined, [4, 6, 5], [4, 1, 5], { kind: 'dropout', strength: p, mode: 'classic' }, b))
      cases.push(lockedCase(true, [6, 4, 5], [1, 4, 5], { kind: 'dropout', strength: p }, b))
      cases.push(featureCase('channelsFirst', [2, 3, 4, 5], [2, 3, 1, 1], p, b))
      cases.push(featureCase(undefined, [2, 3, 4, 5], [2, 1, 1, 5], p, b))
    }
    return cases
  },
}
