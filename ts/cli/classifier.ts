/**
 * The CLI scores classifiers only (softmax cross-entropy models): their evaluate and predict
 * results always carry accuracy, classes and entropy, which the result types leave optional
 * because regression models have none. `classified` states that once, loudly, instead of a `!`
 * at every use.
 */

import { ThinnetError } from '../errors.js'

export function classified<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new ThinnetError('ERR_INTERNAL', `${what} is missing from a classifier's result (a bug: please report it)`)
  return value
}
