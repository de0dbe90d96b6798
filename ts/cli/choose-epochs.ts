/**
 * Choosing the number of epochs on validation data (`thinnet train --validation-split`): the
 * epoch whose validation accuracy is highest; among equal ones the lowest validation loss; then
 * the earliest. It reads the validation columns of a history only: the test set is never passed.
 */

import { invalidArg } from '../errors.js'

/** Per epoch: its number (from 1) and its validation accuracy and loss. */
export interface ValidationPoint {
  epoch: number
  valAccuracy: number | undefined
  valLoss: number | undefined
}

/**
 * The chosen epoch (its number, from 1). Throws ERR_INVALID_ARG for an empty history or one
 * without validation numbers.
 *
 * @example
 * ```ts
 * chooseEpochs([{ epoch: 1, valAccuracy: 0.8, valLoss: 0.5 }, { epoch: 2, valAccuracy: 0.82, valLoss: 0.45 }]) // -> 2
 * ```
 */
export function chooseEpochs(history: readonly ValidationPoint[]): number {
  let best: ValidationPoint | undefined
  for (const point of history) {
    const { valAccuracy: acc, valLoss: loss } = point
    if (acc === undefined || loss === undefined || Number.isNaN(acc)) {
      throw invalidArg(`epoch ${point.epoch} has no validation accuracy: choosing epochs needs validation data`)
    }
    if (best === undefined || acc > (best.valAccuracy as number) || (acc === best.valAccuracy && loss < (best.valLoss as number)))
      best = point
  }
  if (best === undefined) throw invalidArg('choosing epochs needs at least one trained epoch')
  return best.epoch
}
