/**
 * The model layer's port (ts/ops-port.ts) over the TypeScript references, without the facade: the
 * dense layer of test/dense-reference.ts (float64, rounded once to float32: close to the kernels,
 * not bit-identical), the optimizer steps, max-norm and allFinite of ts/reference-optim.ts and
 * concrete dropout of ts/reference-concrete.ts (the kernels' bits). Buffers are plain
 * Float32Arrays. It takes the calls the layers and models make, which are well-formed (bigint
 * seeds, offsets and streams; every optimizer option given), and counts them, so a test can show
 * that a model ran on it and on nothing else.
 */

import type { Activation, BackendBuffer, DenseInputSpec, DropoutMode, KernelDropConnect, KernelSpec } from '../ts/backend.js'
import type { Ops } from '../ts/ops-port.js'
import { CONCRETE_TEMPERATURE, concreteConstants } from '../ts/concrete.js'
import { referenceConcreteDropout, referenceConcreteDropoutBackward } from '../ts/reference-concrete.js'
import { referenceAdamStep, referenceAllFinite, referenceMaxNorm, referenceSgdStep } from '../ts/reference-optim.js'
import type {
  DenseBackwardOptions,
  DenseDropoutOptions,
  DenseInputDropoutOptions,
  DenseLayerOptions,
  DenseNeed,
  DropConnectOptions,
} from '../ts/types.js'
import { referenceConcreteInputBackward, referenceDenseBackward, referenceDenseForward } from './dense-reference.js'
import { referenceNoise } from './reference-noise.js'

export interface ReferenceOps extends Ops {
  readonly calls: Map<string, number>
}

/** The input slot: a Gaussian member's spec (p the rate, or fround(stddev)), else as `spec`. */
function inputSpec(o: DenseInputDropoutOptions | undefined): DenseInputSpec | undefined {
  if (o?.kind === 'gaussianNoise' || o?.kind === 'gaussianDropout') {
    const p = o.kind === 'gaussianNoise' ? Math.fround(o.stddev) : o.p
    return { p, seed: BigInt(o.seed), offset: BigInt(o.offset ?? 0), stream: BigInt(o.stream ?? 0), mode: 'inverted', kind: o.kind }
  }
  if (o?.kind === 'concrete') {
    const draws = { seed: BigInt(o.seed), offset: BigInt(o.offset ?? 0), stream: BigInt(o.stream ?? 0) }
    const concrete = concreteConstants(o.p, o.temperature ?? CONCRETE_TEMPERATURE)
    return { p: o.p, ...draws, mode: 'inverted', kind: 'concrete', concrete }
  }
  return spec(o)
}

function spec(o: (DenseDropoutOptions & { kind?: 'dropout' | 'alpha' }) | undefined): KernelSpec | undefined {
  if (o === undefined) return undefined
  const mode: DropoutMode = o.mode ?? 'inverted'
  // A fused alpha dropout (a model's alphaDropout next to a dense layer) keeps its kind.
  const kind = o.kind === 'alpha' ? { kind: 'alpha' as const } : {}
  return { p: o.p, seed: BigInt(o.seed), offset: BigInt(o.offset ?? 0), stream: BigInt(o.stream ?? 0), mode, ...kind }
}

function dropConnect(o: DropConnectOptions | undefined): KernelDropConnect | undefined {
  if (o === undefined) return undefined
  if ('inference' in o) return { kind: 'mean', p: o.p }
  return { kind: 'sample', spec: spec(o)! }
}

function args(o: DenseLayerOptions) {
  const activation: Activation = o.activation ?? 'linear'
  const inputDropout = inputSpec(o.inputDropout)
  const outputDropout = spec(o.outputDropout)
  const dc = dropConnect(o.dropConnect)
  return {
    rows: o.rows,
    inputs: o.inputs,
    units: o.units,
    activation,
    alpha: o.alpha ?? 0.01,
    ...(inputDropout === undefined ? {} : { inputDropout }),
    ...(outputDropout === undefined ? {} : { outputDropout }),
    ...(dc === undefined ? {} : { dropConnect: dc }),
  }
}

type BackwardOptions = DenseBackwardOptions & { need?: DenseNeed }

function backward(o: BackwardOptions): {
  dx: Float32Array | undefined
  dw: Float32Array | undefined
  db: Float32Array | undefined
  sumDyY?: number
  sumDyYS?: number
} {
  const a = args(o)
  const g = referenceDenseBackward(o.x, o.w, o.dy, { y: o.y, pre: o.pre }, a)
  // A concrete input dropout: dx and the sums as its op gives them on the unmasked dx.
  const concrete = referenceConcreteInputBackward(o.x, o.w, o.dy, { y: o.y, pre: o.pre }, a)
  const out = (want: boolean, given: Float32Array | undefined, values: ArrayLike<number>): Float32Array | undefined => {
    if (!want) return undefined
    const target = given ?? new Float32Array(values.length)
    target.set(values)
    return target
  }
  const grads = {
    dx: out(o.need?.dx !== false, o.dx, concrete?.dx ?? g.dx),
    dw: out(o.need?.dw !== false, o.dw, g.dw),
    db: out(o.need?.db !== false, o.db, g.db),
  }
  return concrete === undefined ? grads : { ...grads, sumDyY: concrete.sumDyY, sumDyYS: concrete.sumDyYS }
}

export function referenceOps(): ReferenceOps {
  const calls = new Map<string, number>()
  const count = (op: string): void => {
    calls.set(op, (calls.get(op) ?? 0) + 1)
  }
  const ops: ReferenceOps = {
    backend: 'native', // a BackendName is required; the model only reports it
    calls,
    allocate(n): BackendBuffer {
      count('allocate')
      const data = new Float32Array(n)
      return { length: n, view: () => data, free: () => undefined }
    },
    dense(o) {
      count('dense')
      const f = referenceDenseForward(o.x, o.w, o.b, args(o))
      const y = o.out ?? new Float32Array(o.rows * o.units)
      y.set(f.y)
      o.pre?.set(f.z)
      return y
    },
    async denseAsync(o) {
      count('denseAsync')
      await Promise.resolve()
      return ops.dense(o)
    },
    // The facade's generic signature (the result's type follows `need`) is the facade's promise;
    // this one returns what `need` asks for, at run time.
    denseBackward: ((o: BackwardOptions) => {
      count('denseBackward')
      return backward(o)
    }) as unknown as Ops['denseBackward'],
    denseBackwardAsync: (async (o: BackwardOptions) => {
      count('denseBackwardAsync')
      await Promise.resolve()
      return backward(o)
    }) as unknown as Ops['denseBackwardAsync'],
    sgdStep(w, g, velocity, o) {
      count('sgdStep')
      referenceSgdStep(w, g, velocity, {
        lr: o.lr,
        momentum: o.momentum ?? 0,
        nesterov: o.nesterov ?? false,
        weightDecay: o.weightDecay ?? 0,
      })
    },
    adamStep(w, g, m, v, o) {
      count('adamStep')
      referenceAdamStep(w, g, m, v, {
        lr: o.lr,
        beta1: o.beta1 ?? 0.9,
        beta2: o.beta2 ?? 0.999,
        epsilon: o.epsilon ?? 1e-8,
        weightDecay: o.weightDecay ?? 0,
        decoupled: o.decoupled ?? false,
        step: o.step,
      })
    },
    maxNorm(w, o) {
      count('maxNorm')
      referenceMaxNorm(w, o.inputs, o.units, o.c)
    },
    allFinite(x) {
      count('allFinite')
      return referenceAllFinite(x)
    },
    noise(x, o) {
      count('noise')
      return referenceNoise(x, o)
    },
    concreteDropout(x, o) {
      count('concreteDropout')
      const { out, ...options } = o
      const y = referenceConcreteDropout(x, options)
      if (out === undefined) return y
      out.set(y)
      return out
    },
    concreteDropoutBackward(dy, x, o) {
      count('concreteDropoutBackward')
      const { out, ...options } = o
      const back = referenceConcreteDropoutBackward(dy, x, options)
      if (out === undefined) return back
      out.set(back.dx)
      return { ...back, dx: out }
    },
  }
  return ops
}
