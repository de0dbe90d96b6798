/**
 * Where a model's random draws come from, besides its layers' own streams (fused layer i uses
 * streams 4i .. 4i + 3 of the model's seed: see DropoutDense).
 */

/** The stream used to shuffle examples between epochs: draws offset .. offset + rows - 1 per epoch. */
export const SHUFFLE_STREAM = (1n << 64n) - 1n

/**
 * Monte Carlo prediction draws its masks from this offset up in every layer stream, while
 * training draws from 0 up and would need 2^63 draws to get here: predicting never reuses a
 * training mask and never moves a generator.
 */
export const MC_OFFSET_BASE = 1n << 63n
