/**
 * The dense and denseBackward calls of a DropoutDense, built from its configuration and its state
 * (layer-state.ts): training (fresh masks, saving what backward needs), inference (classic-mode
 * scaling), Monte Carlo samples (masks at a caller's draw) and the backward pass. The same call
 * serves the synchronous and the async method; `finish` runs once the port has computed it.
 */

import type { Activation, KernelSpec } from '../backend.js'
import { shapeMismatch } from '../errors.js'
import type { Draw } from '../generator.js'
import { savedNeed } from '../ops/dense-backward.js'
import type { DenseBackwardOptions, DenseConcreteInput, DenseOptions, DropConnectOptions } from '../types.js'
import { checkFloat32Array, checkRange, checkU64, readOptions } from '../validate.js'
import type { DenseStreams, DropoutSeeds, LayerDropout } from './layer-options.js'
import type { LayerState, Saved } from './layer-state.js'
import { invalidArg } from '../errors.js'

/** What the calls read of the layer: its configuration and its dropouts in force. */
export interface LayerView {
  readonly inputs: number
  readonly units: number
  readonly activation: Activation
  readonly alpha: number
  readonly streams: Readonly<DenseStreams>
  readonly dropoutSeeds: Readonly<DropoutSeeds>
  readonly inputDropout: Readonly<LayerDropout> | undefined
  readonly outputDropout: Readonly<LayerDropout> | undefined
  readonly dropConnect: Readonly<LayerDropout> | undefined
}

/** A prepared dense call and what to do once it has run (the same for sync and async). */
export interface DenseCall {
  args: DenseOptions
  finish(): Float32Array
}

export type BackwardCall = DenseBackwardOptions & { need: { dx: boolean } }

/** x checked against the layer's inputs. */
export function checkX(layer: LayerView, x: Float32Array): Float32Array {
  const input = checkFloat32Array('x', x)
  if (input.length % layer.inputs !== 0) {
    throw shapeMismatch(`x must have rows * inputs elements, a multiple of inputs = ${layer.inputs}, received ${input.length}`)
  }
  return input
}

/**
 * A training forward: fresh masks from the layer's generators; saves x, and y or pre. `reuse`
 * (fit's own calls): y is a view of a buffer the layer keeps (the saved y itself when y is
 * saved), valid until the layer's next training forward, instead of a new array.
 */
export function trainCall(
  layer: LayerView,
  state: LayerState,
  input: Float32Array,
  rows: number,
  reuse = false,
  concreteInput?: DenseConcreteInput,
): DenseCall {
  const { inputs, units } = layer
  const need = savedNeed(layer.activation, layer.outputDropout)
  // Allocate first: growing WASM memory detaches every view, the caller's x too when it lives
  // there, so x is re-derived from its place in memory afterwards.
  const place = state.placeOf(input)
  const savedXBuffer = state.reserve(state.savedX, rows * inputs)
  state.savedX = savedXBuffer
  const savedOutBuffer = need === 'nothing' ? undefined : state.reserve(state.savedOut, rows * units)
  if (savedOutBuffer !== undefined) state.savedOut = savedOutBuffer
  const reusedY = reuse && need !== 'y or pre' ? state.reserve(state.reusedY, rows * units) : undefined
  if (reusedY !== undefined) state.reusedY = reusedY
  const x = place === undefined ? input : place()

  const g = state.generators
  const specs: Saved = {
    rows,
    // A fused concrete dropout (drawn by its own step) takes the input slot, which the layer's own leaves empty.
    inputDropout:
      concreteInput ?? withKind(state.draw(layer.inputDropout, g.input, layer.streams.input, rows * inputs), layer.inputDropout),
    outputDropout: withKind(state.draw(layer.outputDropout, g.output, layer.streams.output, rows * units), layer.outputDropout),
    dropConnect: state.draw(layer.dropConnect, g.dropConnect, layer.streams.dropConnect, inputs * units),
  }
  const savedX = savedXBuffer.view().subarray(0, rows * inputs)
  savedX.set(x)
  const savedOut = savedOutBuffer?.view().subarray(0, rows * units)
  // For 'y or pre' the kernel writes y straight into the saved buffer.
  const y =
    need === 'y or pre' && savedOut !== undefined
      ? savedOut
      : reusedY !== undefined
        ? reusedY.view().subarray(0, rows * units)
        : new Float32Array(rows * units)
  // The saved state is replaced only once the call succeeded.
  state.saved = undefined
  return {
    args: {
      ...layerArgs(layer, state, savedX, rows),
      inputDropout: specs.inputDropout,
      outputDropout: specs.outputDropout,
      dropConnect: specs.dropConnect,
      out: y,
      ...(need === 'pre' ? { pre: savedOut } : {}),
    },
    finish: () => {
      state.saved = specs
      // Fresh views: the call may have grown WASM memory (see below).
      const kept = reusedY ?? savedOutBuffer
      if (reuse && kept !== undefined) return kept.view().subarray(0, rows * units)
      if (need !== 'y or pre' || savedOutBuffer === undefined) return y
      // y is then a view of the saved buffer, which on WASM lives in its memory: the call itself
      // may have grown that memory (workspace) and detached the view, so take a fresh one, and
      // give the caller an array of its own.
      return savedOutBuffer
        .view()
        .subarray(0, rows * units)
        .slice()
    },
  }
}

/**
 * An inference forward: no masks; classic-mode dropouts scale by fround(1 - p) instead. Alpha
 * dropouts (mode 'inverted') are the identity, as in Keras and PyTorch.
 */
export function inferCall(layer: LayerView, state: LayerState, input: Float32Array, rows: number): DenseCall {
  let x = input
  const inScale = classicScale(layer.inputDropout)
  if (inScale !== undefined) {
    x = new Float32Array(input.length)
    for (let i = 0; i < x.length; i++) x[i] = input[i] * inScale
  }
  let dropConnect: DropConnectOptions | undefined
  if (layer.dropConnect?.mode === 'classic') dropConnect = { p: layer.dropConnect.p, inference: 'mean' }
  const y = new Float32Array(rows * layer.units)
  return {
    args: { ...layerArgs(layer, state, x, rows), dropConnect, out: y },
    finish: () => {
      const outScale = classicScale(layer.outputDropout)
      if (outScale !== undefined) for (let i = 0; i < y.length; i++) y[i] = y[i] * outScale
      return y
    },
  }
}

/** A Monte Carlo sample: masks drawn at `draw`, the layer's generators and saved tensors untouched. */
export function sampleCall(layer: LayerView, state: LayerState, x: Float32Array, draw: Draw): DenseCall {
  // The draw is read before x is checked: no getter of the caller's runs after an array check.
  const d = readOptions(draw, 'draw', '{ seed: 1n, offset: 0n }', ['seed', 'offset'])
  const input = checkX(layer, x)
  const seed = checkU64('draw.seed', d.seed)
  const offset = checkU64('draw.offset', d.offset)
  const rows = input.length / layer.inputs
  const spec = (
    dropout: LayerDropout | undefined,
    own: bigint | undefined,
    stream: bigint,
    n: number,
    name: string,
  ): KernelSpec | undefined => {
    if (dropout === undefined) return undefined
    checkRange(offset, n, 'draw.offset', name)
    return withKind({ p: dropout.p, seed: own ?? seed, offset, stream, mode: dropout.mode }, dropout)
  }
  const own = layer.dropoutSeeds
  const y = new Float32Array(rows * layer.units)
  return {
    args: {
      ...layerArgs(layer, state, input, rows),
      inputDropout: spec(layer.inputDropout, own.input, layer.streams.input, rows * layer.inputs, 'rows * inputs'),
      outputDropout: spec(layer.outputDropout, own.output, layer.streams.output, rows * layer.units, 'rows * units'),
      dropConnect: spec(layer.dropConnect, own.dropConnect, layer.streams.dropConnect, layer.inputs * layer.units, 'inputs * units'),
      out: y,
    },
    finish: () => y,
  }
}

/**
 * The denseBackward call for dy after the last training forward. `reuse` (fit's own calls): dx
 * goes to a buffer the layer keeps (`state.reusedDx`, valid until its next backward) instead of
 * a new array.
 */
export function backwardCall(layer: LayerView, state: LayerState, dy: Float32Array, wantDx: boolean, reuse = false): BackwardCall {
  const { saved, savedX, savedOut } = state
  // A training forward that succeeded leaves `saved` and the buffers it filled.
  if (saved === undefined || savedX === undefined) {
    throw invalidArg('backward needs a training forward first: call forward(x, { training: true })')
  }
  const { rows } = saved
  // Allocate first, as trainCall does: dy may be a view of WASM memory that growing detaches.
  const place = reuse && wantDx ? state.placeOf(dy) : undefined
  if (reuse && wantDx) state.reusedDx = state.reserve(state.reusedDx, rows * layer.inputs)
  const dyNow = place === undefined ? dy : place()
  // What the training forward saved: decided by the dropouts it ran with.
  const need = savedNeed(layer.activation, saved.outputDropout)
  const out = need === 'nothing' ? undefined : savedOut?.view().subarray(0, rows * layer.units)
  return {
    x: savedX.view().subarray(0, rows * layer.inputs),
    w: state.w.view(),
    dy: dyNow,
    ...(reuse && wantDx && state.reusedDx !== undefined ? { dx: state.reusedDx.view().subarray(0, rows * layer.inputs) } : {}),
    ...(need === 'pre' ? { pre: out } : need === 'y or pre' ? { y: out } : {}),
    rows,
    inputs: layer.inputs,
    units: layer.units,
    activation: layer.activation,
    alpha: layer.alpha,
    inputDropout: saved.inputDropout,
    outputDropout: saved.outputDropout,
    dropConnect: saved.dropConnect,
    dw: state.dw.view(),
    db: state.db.view(),
    need: { dx: wantDx },
  }
}

/** The options every dense call of the layer shares, with fresh views of w and b. */
function layerArgs(layer: LayerView, state: LayerState, x: Float32Array, rows: number): DenseOptions {
  return {
    x,
    w: state.w.view(),
    b: state.b.view(),
    rows,
    inputs: layer.inputs,
    units: layer.units,
    activation: layer.activation,
    alpha: layer.alpha,
  }
}

/** A drawn spec with the layer dropout's kind (alpha) carried over; `spec` itself for a dropout. */
function withKind(spec: KernelSpec | undefined, dropout: LayerDropout | undefined): KernelSpec | undefined {
  return spec !== undefined && dropout?.kind === 'alpha' ? { ...spec, kind: 'alpha' } : spec
}

/** The inference factor of a classic dropout, fround(1 - p); undefined when none applies. */
function classicScale(dropout: LayerDropout | undefined): number | undefined {
  return dropout?.mode === 'classic' ? Math.fround(1 - dropout.p) : undefined
}
