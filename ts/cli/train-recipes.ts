/**
 * `thinnet train --recipe`: named settings for the 784-1024-1024-10 MLP on Fashion-MNIST. A
 * recipe fills in every flag the command line leaves at its default; flags given explicitly win.
 *
 * - 'paper': Srivastava et al. (2014)'s recipe for dropout MLPs: SGD with high momentum (0.95), a
 *   learning rate decayed every epoch (x0.99), max-norm 3.5 on every layer's incoming weights,
 *   dropout 0.2 on the inputs and 0.5 after each hidden layer, and a long schedule. Its learning
 *   rate (0.01) and decay were chosen among three settings on validation accuracy only (a sixth of
 *   the training set held out, seed 1: README, "The paper's recipe on the full set"); the epochs
 *   are chosen by `--validation-split`.
 * - 'adam': the Adam recipe of the README's earlier full-set result (lr 0.001, cosine over 40
 *   epochs, dropout 0.2 / 0.5).
 */

import type { OptimizerName, ScheduleName } from './model-spec.js'

export interface RecipeSettings {
  layers: number[]
  inputDropout: number
  dropout: number
  maxNorm: number | undefined
  optimizer: OptimizerName
  lr: number
  momentum: number
  schedule: ScheduleName
  stepEvery: number | undefined
  stepFactor: number
  epochs: number
  batchSize: number
}

export const RECIPES = Object.freeze({
  paper: Object.freeze<RecipeSettings>({
    layers: [1024, 1024],
    inputDropout: 0.2,
    dropout: 0.5,
    maxNorm: 3.5,
    optimizer: 'momentum',
    lr: 0.01,
    momentum: 0.95,
    schedule: 'step',
    stepEvery: 1,
    stepFactor: 0.99,
    epochs: 200,
    batchSize: 128,
  }),
  adam: Object.freeze<RecipeSettings>({
    layers: [1024, 1024],
    inputDropout: 0.2,
    dropout: 0.5,
    maxNorm: undefined,
    optimizer: 'adam',
    lr: 0.001,
    momentum: 0.9,
    schedule: 'cosine',
    stepEvery: undefined,
    stepFactor: 0.1,
    epochs: 40,
    batchSize: 128,
  }),
})

export type RecipeName = keyof typeof RECIPES
export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[]

/**
 * `flags` with every setting the recipe names filled in where `fromCommandLine(key)` is false
 * (the flag was left at its default). Pure.
 *
 * @example
 * ```ts
 * const flags = applyRecipe({ ...parsed }, 'paper', (key) => command.getOptionValueSource(key) === 'cli')
 * ```
 */
export function applyRecipe<F extends Partial<RecipeSettings>>(flags: F, recipe: RecipeName, fromCommandLine: (key: string) => boolean): F {
  const out: Record<string, unknown> = { ...flags }
  for (const [key, value] of Object.entries(RECIPES[recipe])) {
    if (!fromCommandLine(key)) out[key] = Array.isArray(value) ? [...value] : value
  }
  return out as F
}
