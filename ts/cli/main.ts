#!/usr/bin/env node
/**
 * The `thinnet` command: demo, train, eval, sweep, backends. Each subcommand lives in its own file; this
 * one only assembles them. Exit status: 0 on success, 1 on failure (a bad flag, a ThinnetError:
 * one line with its code and message), 130 when interrupted with Ctrl-C.
 */

import { Command } from 'commander'
import { backendsCommand } from './backends.js'
import { demoCommand } from './demo.js'
import { evalCommand } from './eval.js'
import { runCommand } from './run.js'
import { sweepCommand } from './sweep.js'
import { trainCommand } from './train.js'

// `thinnet eval ... | head`: a closed pipe ends the command quietly instead of with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}

const program = new Command('thinnet')
  .description('thinnet: fast, exact dropout for JavaScript. Train and evaluate dropout MLPs on Fashion-MNIST.')
  .showHelpAfterError('(run with --help for usage)')
  .addCommand(demoCommand())
  .addCommand(trainCommand())
  .addCommand(evalCommand())
  .addCommand(sweepCommand())
  .addCommand(
    new Command('backends')
      .description('load every backend, run dropout on each, and check that they agree bit for bit with the reference (exit 1 if not)')
      .action(() => runCommand('thinnet backends', () => backendsCommand())),
  )

for (const command of program.commands) command.showHelpAfterError(`(run thinnet ${command.name()} --help for usage)`)

await program.parseAsync(process.argv)
