/**
 * How busy the rest of the machine was while a benchmark ran: CPU time used by other processes
 * (and stolen by the hypervisor), in cores, averaged over the interval. The benchmarks run on a
 * 2-core machine that others may share; a 2-thread row loses badly when one core is taken, so each
 * table says how much was taken instead of leaving the reader to guess. Linux only (/proc/stat);
 * elsewhere it reports nothing.
 */

import { readFileSync } from 'node:fs'

/** /proc/stat counts in USER_HZ ticks, 100 per second on every mainstream Linux. */
const TICKS_PER_SECOND = 100

/** Busy ticks of the whole machine: every field of the "cpu" line except idle and iowait. */
function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    return (user + nice + system + irq + softirq + (steal || 0)) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

function ownSeconds(): number {
  const { user, system } = process.cpuUsage() // all threads of this process, thread pools included
  return (user + system) / 1e6
}

/** Starts a meter; calling the result gives other processes' average use in cores since then. */
export function startDisturbanceMeter(): () => number | undefined {
  const busy0 = machineBusySeconds()
  const own0 = ownSeconds()
  const wall0 = performance.now()
  return () => {
    const busy1 = machineBusySeconds()
    if (busy0 === undefined || busy1 === undefined) return undefined
    const wall = (performance.now() - wall0) / 1e3
    return Math.max(0, (busy1 - busy0 - (ownSeconds() - own0)) / wall)
  }
}

/** A line for under a table, warning when others took a noticeable share of the machine. */
export function describeDisturbance(cores: number | undefined): string {
  if (cores === undefined) return ''
  const verdict = cores > 0.15 ? ': the machine was busy, these numbers are disturbed (rerun on an idle machine)' : ''
  return `other processes used ${cores.toFixed(2)} cores on average during these measurements${verdict}`
}
