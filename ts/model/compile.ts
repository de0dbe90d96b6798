/**
 * Fusion: a sequential list of layer descriptions becomes a list of steps, fused DropoutDense
 * layers and standalone noise steps.
 *
 * An element-wise dropout or alpha dropout right after a dense layer becomes that layer's output
 * dropout (applied in the GEMM's store epilogue); one right before a dense layer (at the start,
 * or after a noise step) becomes that layer's input dropout (applied while x is packed). Both are
 * the same function of the same tensor; which kernel slot carries it changes only which mask
 * stream its draws come from. What the dense kernels cannot carry runs as a noise step of its
 * own: a dropout with a noise shape (spatial, locked, or noiseShape != shape), FeatureAlpha
 * dropout (alpha with a noise shape), Gaussian dropout and noise, and an element-wise dropout
 * with no dense neighbour. Every description ends
 * up in exactly one step, and the plan records which, so a model can say what it fused.
 *
 * A concrete dropout (a learned rate) keeps a step of its own, which holds the rate, its
 * optimizer slot and its stream, and is fused at run time into the next dense layer's input slot
 * (its `fused`, the dense step's `concreteInput`): training then draws its masks as x is packed
 * and takes the rate's sums from the dense backward pass, with no pass of its own over x. Monte
 * Carlo passes and inference run the step itself (the same numbers). `fuseConcrete: false` (an
 * internal option, for the tests that compare both) keeps it a step that runs on its own.
 */

import type { Activation, DropoutMode } from '../backend.js'
import { invalidArg, shapeMismatch } from '../errors.js'
import type { Initializer } from '../layers/init.js'
import type { NoiseOp } from '../layers/noise-layer.js'
import type { Layer } from './layers.js'
import { checkNoiseShape, type DataFormat } from './noise-layers.js'
import type { ConcreteDropoutLayer } from './concrete-layers.js'

/** A dropout carried by a dense step's kernel slot. */
export interface StepDropout {
  readonly p: number
  readonly mode: DropoutMode
  /** Present for an alpha dropout (mode then 'inverted'); absent for a dropout. */
  readonly kind?: 'alpha'
  /** The description's own seed, which its masks come from instead of the model's; absent: the model's. */
  readonly seed?: bigint
}

/** One fused layer of a model: what it computes and which descriptions it stands for. */
export interface FusedLayerPlan {
  readonly kind: 'dense'
  readonly inputs: number
  readonly units: number
  readonly activation: Activation
  /** Its description said 'softmax': the loss applies it (the layer gives logits). */
  readonly softmax: boolean
  readonly alpha: number | undefined
  readonly init: Initializer | undefined
  readonly maxNorm: number | undefined
  readonly inputDropout: StepDropout | undefined
  readonly outputDropout: StepDropout | undefined
  readonly dropConnect: StepDropout | undefined
  /**
   * The layer index of a concrete dropout fused into the input slot at training time (its step
   * stands right before this one); undefined: none.
   */
  readonly concreteInput: number | undefined
  /** Indices into the layer list this fused layer implements, in order. */
  readonly from: readonly number[]
}

/** A member of the dropout family run on its own (ts/layers/noise-layer.ts), between dense steps. */
export interface NoiseStepPlan {
  readonly kind: 'noise'
  /** The description's kind, e.g. 'spatialDropout2d'. */
  readonly layer: Exclude<Layer['kind'], 'dense' | 'concreteDropout'>
  /** The op that computes it. */
  readonly op: NoiseOp
  /** The rate (0 for Gaussian noise). */
  readonly p: number
  /** Gaussian noise's standard deviation; undefined otherwise. */
  readonly stddev: number | undefined
  /** Dropout's mode ('inverted' for the members that have none). */
  readonly mode: DropoutMode
  /** Features per example: the width of the tensor at this point, in and out. */
  readonly width: number
  /** One example's shape (product: width). */
  readonly shape: readonly number[]
  /** The mask's shape per example; undefined: element-wise (one draw per value). */
  readonly noiseShape: readonly number[] | undefined
  /** Spatial dropout's layout. */
  readonly dataFormat: DataFormat | undefined
  /** The description's own seed; undefined: the model's. */
  readonly seed: bigint | undefined
  /** The one description it implements. */
  readonly from: readonly number[]
}

/** A concrete-dropout step (ts/layers/concrete-layer.ts): dropout with a learned rate, before a dense layer. */
export interface ConcreteStepPlan extends Pick<
  ConcreteDropoutLayer,
  'initialRate' | 'temperature' | 'weightRegularizer' | 'dropoutRegularizer'
> {
  readonly kind: 'concrete'
  /** Features per example, in and out (the next dense layer's inputs). */
  readonly width: number
  /** The description's own seed; undefined: the model's. */
  readonly seed: bigint | undefined
  /** Whether training runs it in the next dense layer's input slot (that step's `concreteInput`). */
  readonly fused: boolean
  /** The one description it implements. */
  readonly from: readonly number[]
}

/** Internal options of `compile`. */
export interface CompileOptions {
  /** Fuse each concrete dropout into the next dense layer's input slot (default true). */
  fuseConcrete?: boolean
}

export type PlanStep = FusedLayerPlan | NoiseStepPlan | ConcreteStepPlan

type Building = { -readonly [K in keyof FusedLayerPlan]: K extends 'from' ? number[] : FusedLayerPlan[K] }

/** The dense steps of a plan, in order (the model's `fused` layers). */
export function denseSteps(plan: readonly PlanStep[]): FusedLayerPlan[] {
  return plan.filter((s): s is FusedLayerPlan => s.kind === 'dense')
}

/** A description the dense kernels can carry: dropout or alpha dropout, element-wise. */
function isFusible(layer: Layer | undefined): boolean {
  return (
    (layer?.kind === 'dropout' || layer?.kind === 'alphaDropout') &&
    (layer.noiseShape === undefined || sameShape(layer.noiseShape, layer.shape))
  )
}

function sameShape(a: readonly number[], b: readonly number[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((n, i) => n === b[i])
}

/**
 * The noise step of a non-dense description at `index`, on a tensor of `width` features. Throws
 * ERR_SHAPE_MISMATCH when its shape does not hold `width` values, or its noise shape does not
 * broadcast over it.
 */
function noiseStep(
  layer: Exclude<Layer, { kind: 'dense' | 'concreteDropout' }>,
  index: number,
  width: number,
  mode: DropoutMode,
): NoiseStepPlan {
  const name = `layers[${index}] (${layer.kind})`
  const shape = ('shape' in layer ? layer.shape : undefined) ?? [width]
  const size = shape.reduce((a, b) => a * b, 1)
  if (size !== width) {
    throw shapeMismatch(`${name}: shape [${shape.join(', ')}] holds ${size} values, but the tensor at this point has ${width} per example`)
  }
  const base = {
    kind: 'noise' as const,
    layer: layer.kind,
    width,
    shape: Object.freeze([...shape]),
    seed: layer.seed,
    from: Object.freeze([index]),
  }
  const noise = (noiseShape: readonly number[] | undefined): readonly number[] | undefined =>
    noiseShape === undefined || sameShape(noiseShape, shape) ? undefined : Object.freeze([...noiseShape])
  switch (layer.kind) {
    case 'dropout':
    case 'alphaDropout': {
      if (layer.noiseShape !== undefined) {
        try {
          checkNoiseShape(layer.noiseShape, shape, 'noiseShape')
        } catch (error) {
          throw shapeMismatch(`${name}: ${(error as Error).message}`)
        }
      }
      const op = layer.kind === 'dropout' ? 'dropout' : 'alpha'
      const m = layer.kind === 'dropout' ? (layer.mode ?? mode) : 'inverted'
      return { ...base, op, p: layer.rate, stddev: undefined, mode: m, noiseShape: noise(layer.noiseShape), dataFormat: undefined }
    }
    case 'spatialDropout1d':
    case 'spatialDropout2d':
    case 'spatialDropout3d': {
      const last = layer.dataFormat === 'channelsLast'
      const n = shape.map((s, d) => ((last ? d === shape.length - 1 : d === 0) ? s : 1))
      return {
        ...base,
        op: 'dropout',
        p: layer.rate,
        stddev: undefined,
        mode: layer.mode ?? mode,
        noiseShape: noise(n),
        dataFormat: layer.dataFormat,
      }
    }
    case 'lockedDropout':
      return {
        ...base,
        op: 'dropout',
        p: layer.rate,
        stddev: undefined,
        mode: layer.mode ?? mode,
        noiseShape: noise([1, shape[1]]),
        dataFormat: undefined,
      }
    case 'gaussianDropout':
      return {
        ...base,
        op: 'gaussianDropout',
        p: layer.rate,
        stddev: undefined,
        mode: 'inverted',
        noiseShape: undefined,
        dataFormat: undefined,
      }
    case 'gaussianNoise':
      return { ...base, op: 'gaussianNoise', p: 0, stddev: layer.stddev, mode: 'inverted', noiseShape: undefined, dataFormat: undefined }
  }
}

/**
 * The plan of `layers` for a model with `inputs` features and default dropout `mode`. Throws
 * ERR_INVALID_ARG for a list that has no dense layer or two element-wise dropouts in a row (one
 * dropout of rate 1 - (1 - a)(1 - b) is the same thing), ERR_SHAPE_MISMATCH for a description
 * whose shape does not fit the width where it stands.
 */
export function compile(layers: readonly Layer[], inputs: number, mode: DropoutMode, options: CompileOptions = {}): PlanStep[] {
  const fuseConcrete = options.fuseConcrete ?? true
  const plan: (Building | NoiseStepPlan | ConcreteStepPlan)[] = []
  let pendingInput: { dropout: StepDropout; index: number } | undefined
  let pendingConcrete: number | undefined
  let width = inputs
  layers.forEach((layer, index) => {
    const previous = index > 0 ? layers[index - 1] : undefined
    const next = index + 1 < layers.length ? layers[index + 1] : undefined
    if (layer.kind === 'concreteDropout') {
      if (next?.kind !== 'dense') {
        throw invalidArg(
          `layers[${index}] (concreteDropout) must stand right before a dense layer: its regulariser is on that layer's weights` +
            (next === undefined ? ' (it is the last layer)' : ` (layers[${index + 1}] is ${next.kind})`),
        )
      }
      plan.push(
        Object.freeze({
          kind: 'concrete' as const,
          width,
          initialRate: layer.initialRate,
          temperature: layer.temperature,
          weightRegularizer: layer.weightRegularizer,
          dropoutRegularizer: layer.dropoutRegularizer,
          seed: layer.seed,
          fused: fuseConcrete,
          from: Object.freeze([index]),
        }),
      )
      // The next description is dense (checked above), and nothing stands between them.
      if (fuseConcrete) pendingConcrete = index
      return
    }
    if (layer.kind !== 'dense') {
      const step = noiseStep(layer, index, width, mode)
      if (!isFusible(layer)) {
        plan.push(step)
        return
      }
      if (layer.kind === 'dropout' && previous?.kind === 'dropout' && isFusible(previous)) {
        throw invalidArg(
          `layers[${index}]: two dropout layers in a row (layers ${index - 1} and ${index}); use one with rate 1 - (1 - a) * (1 - b)`,
        )
      }
      const seeded = step.seed === undefined ? {} : { seed: step.seed }
      const dropout: StepDropout =
        step.op === 'alpha' ? { p: step.p, mode: 'inverted', kind: 'alpha', ...seeded } : { p: step.p, mode: step.mode, ...seeded }
      const last = plan.length > 0 ? plan[plan.length - 1] : undefined
      if (previous?.kind === 'dense' && last?.kind === 'dense') {
        last.outputDropout = dropout
        last.from.push(index)
      } else if (next?.kind === 'dense') {
        pendingInput = { dropout, index }
      } else {
        plan.push(step)
      }
      return
    }
    plan.push({
      kind: 'dense',
      inputs: width,
      units: layer.units,
      // Softmax stays with the loss (cross-entropy from the logits): the layer itself is linear.
      activation: layer.activation === 'softmax' ? 'linear' : layer.activation,
      softmax: layer.activation === 'softmax',
      alpha: layer.alpha,
      init: layer.init,
      maxNorm: layer.maxNorm,
      inputDropout: pendingInput?.dropout,
      outputDropout: undefined,
      dropConnect: layer.dropConnect > 0 ? { p: layer.dropConnect, mode } : undefined,
      concreteInput: pendingConcrete,
      from: pendingInput === undefined ? [index] : [pendingInput.index, index],
    })
    pendingInput = undefined
    pendingConcrete = undefined
    width = layer.units
  })
  if (!plan.some((s) => s.kind === 'dense')) throw invalidArg('layers must hold at least one dense layer')
  return plan.map((p) => (p.kind === 'dense' ? Object.freeze({ ...p, from: Object.freeze(p.from) }) : Object.freeze(p)))
}

/** Features per example the plan outputs: the width after its last step. */
export function planOutputs(plan: readonly PlanStep[]): number {
  const last = plan[plan.length - 1]
  return last.kind === 'dense' ? last.units : last.width
}

/** "dropout 0.5 (inverted)" or "alpha dropout 0.05". */
function describeSlot(d: StepDropout): string {
  const what = d.kind === 'alpha' ? `alpha dropout ${d.p}` : `dropout ${d.p} (${d.mode})`
  return d.seed === undefined ? what : `${what} seed ${d.seed}`
}

function describeConcrete(p: ConcreteStepPlan): string {
  const parts = [`Concrete dropout, learned rate from ${p.initialRate}, temperature ${p.temperature} over [${p.width}]`]
  if (p.seed !== undefined) parts.push(`seed ${p.seed}`)
  return parts.join(', ')
}

function describeNoise(p: NoiseStepPlan): string {
  const strength = p.op === 'gaussianNoise' ? `stddev ${p.stddev}` : `${p.p}`
  const parts = [`Noise ${p.layer} ${strength}${p.mode === 'classic' ? ' (classic)' : ''} over [${p.shape.join(', ')}]`]
  if (p.dataFormat === 'channelsFirst') parts.push('channels first')
  if (p.seed !== undefined) parts.push(`seed ${p.seed}`)
  if (p.noiseShape !== undefined && (p.layer === 'dropout' || p.layer === 'alphaDropout')) {
    parts.push(`noise shape [${p.noiseShape.join(', ')}]`)
  }
  return parts.join(', ')
}

/**
 * One line per step, e.g. "DropoutDense 784 -> 1024, relu, input dropout 0.2 (inverted), output
 * dropout 0.5 (inverted)  <- layers 0 dropout, 1 dense, 2 dropout" or "Noise spatialDropout2d 0.2
 * over [8, 8, 16]  <- layer 3".
 */
export function describePlan(plan: readonly PlanStep[], layers: readonly Layer[]): string[] {
  return plan.map((p) => {
    if (p.kind === 'noise') return `${describeNoise(p)}  <- layer ${p.from[0]}`
    if (p.kind === 'concrete') return `${describeConcrete(p)}  <- layer ${p.from[0]}`
    const parts = [`DropoutDense ${p.inputs} -> ${p.units}`, p.softmax ? 'softmax (in the cross-entropy, from logits)' : p.activation]
    if (p.inputDropout) parts.push(`input ${describeSlot(p.inputDropout)}`)
    if (p.concreteInput !== undefined) parts.push(`input concrete dropout of layer ${p.concreteInput} (fused in training)`)
    if (p.dropConnect) parts.push(`DropConnect ${p.dropConnect.p} (${p.dropConnect.mode})`)
    if (p.outputDropout) parts.push(`output ${describeSlot(p.outputDropout)}`)
    if (p.maxNorm !== undefined) parts.push(`max-norm ${p.maxNorm}`)
    const names = p.from.map((i) => `${i} ${layers[i].kind}`)
    return `${parts.join(', ')}  <- layers ${names.join(', ')}`
  })
}
