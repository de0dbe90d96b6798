/**
 * How busy the rest of the machine was while a benchmark ran: CPU time used by other processes
 * (and stolen by the hypervisor), in cores, averaged over the interval. The benchmarks run on a
 * 2-core machine that others may share; a 2-thread row loses badly when one core is taken, so each
 * table says how much was taken instead of leaving the reader to guess. Linux only (/proc/stat);
 * elsewhere it reports nothing.
 */

import { readdirSync, readFileSync } from 'node:fs'

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

/**
 * CPU seconds of this process's descendants (a browser it launched, and that browser's own
 * children), from /proc/<pid>/stat: their time and that of the children they have reaped. Linux
 * only; 0 elsewhere. A descendant that exits during a measurement takes its time with it (and the
 * meter then counts that time as others').
 */
export function descendantSeconds(): number {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return 0
  }
  const children = new Map<number, number[]>()
  const ticks = new Map<number, number>()
  for (const name of entries) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const [ppid, utime, stime, cutime, cstime] = [fields[1], fields[11], fields[12], fields[13], fields[14]].map(Number)
    const pid = Number(name)
    children.set(ppid, [...(children.get(ppid) ?? []), pid])
    ticks.set(pid, utime + stime + cutime + cstime)
  }
  let total = 0
  const stack = [...(children.get(process.pid) ?? [])]
  while (stack.length > 0) {
    const pid = stack.pop()!
    total += ticks.get(pid) ?? 0
    stack.push(...(children.get(pid) ?? []))
  }
  return total / TICKS_PER_SECOND
}

function ownSeconds(withDescendants: boolean): number {
  const { user, system } = process.cpuUsage() // all threads of this process, thread pools included
  return (user + system) / 1e6 + (withDescendants ? descendantSeconds() : 0)
}

/**
 * Starts a meter; calling the result gives other processes' average use in cores since then.
 * `withDescendants`: count this process's child processes (a launched browser) as ours, not others'.
 */
export function startDisturbanceMeter(withDescendants = false): () => number | undefined {
  const ownSeconds0 = () => ownSeconds(withDescendants)
  const busy0 = machineBusySeconds()
  const own0 = ownSeconds0()
  const wall0 = performance.now()
  return () => {
    const busy1 = machineBusySeconds()
    if (busy0 === undefined || busy1 === undefined) return undefined
    const wall = (performance.now() - wall0) / 1e3
    return Math.max(0, (busy1 - busy0 - (ownSeconds0() - own0)) / wall)
  }
}

/** A line for under a table, warning when others took a noticeable share of the machine. */
export function describeDisturbance(cores: number | undefined): string {
  if (cores === undefined) return ''
  const verdict = cores > 0.15 ? ': the machine was busy, these numbers are disturbed (rerun on an idle machine)' : ''
  return `other processes used ${cores.toFixed(2)} cores on average during these measurements${verdict}`
}
