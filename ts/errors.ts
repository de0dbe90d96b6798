/**
 * The one error type thinnet throws. Its `code` is stable (match on it, not on the message); the
 * message names the argument, what was expected and what was received.
 */

/** Stable error codes, shared with the Rust core (`ErrorCode::as_str`), except ERR_NOT_FINITE (training only). */
export type ThinnetErrorCode =
  /** An argument is outside its domain: p outside [0, 1], a negative seed, an unknown name... */
  | 'ERR_INVALID_ARG'
  /** Array lengths disagree with each other or with the stated size. */
  | 'ERR_SHAPE_MISMATCH'
  /** The requested backend (or, in automatic mode, every backend) cannot load here. */
  | 'ERR_BACKEND_UNAVAILABLE'
  /** Training produced a NaN or infinite loss or gradient (thrown by `fit`, which leaves the model as before that step). */
  | 'ERR_NOT_FINITE'
  /** A failure no argument explains (a caught panic, an allocation failure): a bug to report. */
  | 'ERR_INTERNAL'

const CODES: ReadonlySet<string> = new Set<ThinnetErrorCode>([
  'ERR_INVALID_ARG',
  'ERR_SHAPE_MISMATCH',
  'ERR_BACKEND_UNAVAILABLE',
  'ERR_NOT_FINITE',
  'ERR_INTERNAL',
])

/**
 * Thrown for every rejected call and every load failure.
 *
 * @example
 * ```ts
 * import { load, ThinnetError } from 'thinnet'
 * const tn = await load()
 * try {
 *   tn.dropout(new Float32Array(4), { p: 1.2, seed: 1 })
 * } catch (e) {
 *   if (e instanceof ThinnetError && e.code === 'ERR_INVALID_ARG') console.log(e.message)
 *   // -> p must be a number in [0, 1], received 1.2
 * }
 * ```
 */
export class ThinnetError extends Error {
  readonly code: ThinnetErrorCode

  constructor(code: ThinnetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ThinnetError'
    this.code = code
  }
}

export function invalidArg(message: string): ThinnetError {
  return new ThinnetError('ERR_INVALID_ARG', message)
}

export function shapeMismatch(message: string): ThinnetError {
  return new ThinnetError('ERR_SHAPE_MISMATCH', message)
}

/**
 * Turns whatever a backend threw into a ThinnetError. The facade validates every argument before
 * calling a backend, so a backend error means the two disagree or something broke inside: the
 * backend's own code is kept when it is one of ours, anything else is ERR_INTERNAL. The original
 * error stays reachable as `cause`.
 */
export function fromBackendError(error: unknown, backend: string): ThinnetError {
  if (error instanceof ThinnetError) return error
  const code = (error as { code?: unknown } | null)?.code
  const message = error instanceof Error ? error.message : String(error)
  if (typeof code === 'string' && CODES.has(code)) {
    return new ThinnetError(code as ThinnetErrorCode, message, { cause: error })
  }
  return new ThinnetError('ERR_INTERNAL', `the ${backend} backend failed unexpectedly: ${message}`, {
    cause: error,
  })
}
