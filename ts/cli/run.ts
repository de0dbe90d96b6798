/**
 * How a command ends: its exit status, and for failures a message without a stack trace for the
 * errors a user can act on (a ThinnetError or an operating system error prints its code and
 * message; Ctrl-C prints that it was interrupted); anything else is a bug and keeps its stack.
 */

import { ThinnetError } from '../errors.js'

/** An error from the operating system as Node reports it (a `code` like 'EACCES' and the failed `syscall`). */
function isSystemError(error: unknown): error is Error & { code: string; syscall: string } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { syscall?: unknown }).syscall === 'string'
  )
}

/** The reason the CLI aborts training with when the user presses Ctrl-C. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted')
    this.name = 'Interrupted'
  }
}

/**
 * An AbortSignal that fires on the first Ctrl-C (SIGINT); a second Ctrl-C ends the process as
 * usual. `release` removes the handler.
 */
export function interruptSignal(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController()
  const onSigint = (): void => controller.abort(new Interrupted())
  process.once('SIGINT', onSigint)
  return { signal: controller.signal, release: () => process.removeListener('SIGINT', onSigint) }
}

/**
 * Runs a command body and sets process.exitCode: its own status (0 by default), 1 on failure,
 * 130 when interrupted. `name` prefixes the error line ("thinnet train: ERR_INVALID_ARG: ...").
 *
 * @example
 * ```ts
 * program.command('eval').action((opts) => runCommand('thinnet eval', () => evalCommand(opts)))
 * ```
 */
export async function runCommand(name: string, body: () => Promise<number> | Promise<void>): Promise<void> {
  try {
    const status = await body()
    process.exitCode = typeof status === 'number' ? status : 0
  } catch (error) {
    if (error instanceof Interrupted || (error as { name?: unknown } | null)?.name === 'AbortError') {
      process.stderr.write(`\n${name}: interrupted\n`)
      process.exitCode = 130
    } else if (error instanceof ThinnetError) {
      process.stderr.write(`${name}: ${error.code}: ${error.message}\n`)
      process.exitCode = 1
    } else if (isSystemError(error)) {
      // A file the user named cannot be read or written (EACCES, ENOSPC, EIO...): their machine's
      // answer, not a bug of ours, so one line with the system's code and no stack.
      process.stderr.write(`${name}: ${error.code}: ${error.message}\n`)
      process.exitCode = 1
    } else {
      process.stderr.write(
        `${name}: unexpected failure (a bug; please report it):\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
      process.exitCode = 1
    }
  }
}
