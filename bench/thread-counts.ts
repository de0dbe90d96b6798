/**
 * The thread counts a bench measures a backend at: 1, and every thread it has (at most `cap`) when
 * that is more. Shared by the Node benches and the browser page (it imports nothing).
 */
export function threadCounts(maxThreads: number, cap = Infinity): number[] {
  const all = Math.min(maxThreads, cap)
  return all > 1 ? [1, all] : [1]
}
