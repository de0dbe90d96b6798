/**
 * Where a model's random draws come from, besides its layers' own streams (fused layer i uses
 * streams 4i .. 4i + 3 of the model's seed: see DropoutDense).
 */

/** The stream used to shuffle examples between epochs: draws offset .. offset + rows - 1 per epoch. */
export const SHUFFLE_STREAM = (1n << 64n) - 1n

/** fit's validationSplit: which rows are held out, draws 0 .. rows - 1 (the same for every fit). */
export const SPLIT_STREAM = (1n << 64n) - 2n

/**
 * A noise step (a layer the dense kernels do not carry) for the description at layers[j] draws
 * from stream NOISE_STREAM_BASE + j: far above the fused layers' 4i .. 4i + 3 (which would need
 * 2^61 layers to get there) and below the shuffle stream, so adding noise layers to a model
 * moves no other layer's stream. Keyed by the description's index rather than the step's, so a
 * step keeps its stream when a neighbour's fusion changes.
 */
export const NOISE_STREAM_BASE = 1n << 63n

/**
 * Monte Carlo prediction draws its masks from this offset up in every layer stream, while
 * training draws from 0 up and would need 2^63 draws to get here: predicting never reuses a
 * training mask and never moves a generator.
 */
export const MC_OFFSET_BASE = 1n << 63n
