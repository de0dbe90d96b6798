/**
 * Fusion: a sequential list of Dropout and Dense descriptions becomes a list of fused
 * DropoutDense layers. A dropout right after a dense layer becomes that layer's output dropout
 * (applied in the GEMM's store epilogue); a dropout before the first dense layer, or after a dense
 * layer that already has one, becomes the next dense layer's input dropout (applied while x is
 * packed). Both are the same function of the same tensor; which kernel slot carries it changes
 * only which mask stream its draws come from. Every description ends up in exactly one fused
 * layer, and the plan records which ones, so a model can say what it fused.
 */

import type { Activation, DropoutMode } from '../backend.js'
import { invalidArg } from '../errors.js'
import type { Initializer } from '../layers/init.js'
import type { Layer } from './layers.js'

/** One fused layer of a model: what it computes and which descriptions it stands for. */
export interface FusedLayerPlan {
  readonly inputs: number
  readonly units: number
  readonly activation: Activation
  readonly alpha: number | undefined
  readonly init: Initializer | undefined
  readonly maxNorm: number | undefined
  readonly inputDropout: { readonly p: number; readonly mode: DropoutMode } | undefined
  readonly outputDropout: { readonly p: number; readonly mode: DropoutMode } | undefined
  readonly dropConnect: { readonly p: number; readonly mode: DropoutMode } | undefined
  /** Indices into the layer list this fused layer implements, in order. */
  readonly from: readonly number[]
}

interface Building {
  inputs: number
  units: number
  activation: Activation
  alpha: number | undefined
  init: Initializer | undefined
  maxNorm: number | undefined
  inputDropout: { p: number; mode: DropoutMode } | undefined
  outputDropout: { p: number; mode: DropoutMode } | undefined
  dropConnect: { p: number; mode: DropoutMode } | undefined
  from: number[]
}

/**
 * The fused plan of `layers` for a model with `inputs` features and default dropout `mode`.
 * Throws ERR_INVALID_ARG for a list that has no dense layer, two dropouts in a row (one dropout
 * of rate 1 - (1 - a)(1 - b) is the same thing), or a dropout with no dense layer to join.
 */
export function compile(layers: readonly Layer[], inputs: number, mode: DropoutMode): FusedLayerPlan[] {
  const plan: Building[] = []
  let pendingInput: { p: number; mode: DropoutMode; index: number } | undefined
  let width = inputs
  layers.forEach((layer, index) => {
    const previous = index > 0 ? layers[index - 1] : undefined
    if (layer.kind === 'dropout') {
      if (previous?.kind === 'dropout') {
        throw invalidArg(
          `layers[${index}]: two dropout layers in a row (layers ${index - 1} and ${index}); use one with rate 1 - (1 - a) * (1 - b)`,
        )
      }
      const dropout = { p: layer.rate, mode: layer.mode ?? mode }
      const last = plan.length > 0 ? plan[plan.length - 1] : undefined
      if (previous?.kind === 'dense' && last !== undefined) {
        last.outputDropout = dropout
        last.from.push(index)
      } else {
        pendingInput = { ...dropout, index }
      }
      return
    }
    const fused: Building = {
      inputs: width,
      units: layer.units,
      activation: layer.activation,
      alpha: layer.alpha,
      init: layer.init,
      maxNorm: layer.maxNorm,
      inputDropout: pendingInput === undefined ? undefined : { p: pendingInput.p, mode: pendingInput.mode },
      outputDropout: undefined,
      dropConnect: layer.dropConnect > 0 ? { p: layer.dropConnect, mode } : undefined,
      from: pendingInput === undefined ? [index] : [pendingInput.index, index],
    }
    pendingInput = undefined
    plan.push(fused)
    width = layer.units
  })
  if (plan.length === 0) throw invalidArg('layers must hold at least one dense layer')
  if (pendingInput !== undefined) {
    throw invalidArg(`layers[${pendingInput.index}]: a dropout layer must come before or after a dense layer`)
  }
  return plan.map((p) => Object.freeze({ ...p, from: Object.freeze(p.from) }))
}

/** One line per fused layer, e.g. "DropoutDense 784 -> 1024, relu, input dropout 0.2 (inverted), output dropout 0.5 (inverted)  <- layers 0, 1, 2". */
export function describePlan(plan: readonly FusedLayerPlan[], layers: readonly Layer[]): string[] {
  return plan.map((p) => {
    const parts = [`DropoutDense ${p.inputs} -> ${p.units}`, p.activation]
    if (p.inputDropout) parts.push(`input dropout ${p.inputDropout.p} (${p.inputDropout.mode})`)
    if (p.dropConnect) parts.push(`DropConnect ${p.dropConnect.p} (${p.dropConnect.mode})`)
    if (p.outputDropout) parts.push(`output dropout ${p.outputDropout.p} (${p.outputDropout.mode})`)
    if (p.maxNorm !== undefined) parts.push(`max-norm ${p.maxNorm}`)
    const names = p.from.map((i) => `${i} ${layers[i].kind}`)
    return `${parts.join(', ')}  <- layers ${names.join(', ')}`
  })
}
