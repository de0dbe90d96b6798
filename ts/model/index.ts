/** The model API's namespaces, as `tn.layers`, `tn.optimizers`, `tn.schedules`, `tn.callbacks` (and named exports). */

import { dense, dropout } from './layers.js'
import {
  alphaDropout,
  gaussianDropout,
  gaussianNoise,
  lockedDropout,
  spatialDropout1d,
  spatialDropout2d,
  spatialDropout3d,
} from './noise-layers.js'
import { concreteDropout } from './concrete-layers.js'
import { earlyStopping } from './callbacks.js'
import { adam, adamw, sgd } from './optimizers.js'
import { constant, cosine, linear, step } from './schedules.js'

/** Layer descriptions for `tn.sequential`. */
export const layers = Object.freeze({
  dense,
  dropout,
  spatialDropout1d,
  spatialDropout2d,
  spatialDropout3d,
  lockedDropout,
  alphaDropout,
  gaussianDropout,
  gaussianNoise,
  concreteDropout,
})
/** Optimizer descriptions for `model.fit`. */
export const optimizers = Object.freeze({ sgd, adam, adamw })
/** Schedules for learning rates and dropout rates. */
export const schedules = Object.freeze({ constant, step, cosine, linear })
/** Fit callbacks: `callbacks.earlyStopping({ monitor, patience, minDelta, mode, restoreBest })`. */
export const callbacks = Object.freeze({ earlyStopping })
