// How far each V8 heap of the relay (the main thread's and every thread's) may grow past what
// survived its last full collection before the next one starts: twice that
// (`--heap-growing-percent=100`) instead of V8's own factor, which reaches 4x in a busy heap.
// Why: the relay's garbage is mostly per event and dies young, but what a scavenge finds alive
// (events waiting for a verify worker, the account writer's batch) is promoted, so the old
// generation fills with dead objects at a steady rate; with V8's factor it grew to several
// times the live heap between full collections, and that was resident memory. With 2x, peak RSS
// under the load generator fell ~90 MB (~400 -> ~310 MB at 3,000 and 4,000 commits/s) for a
// little more work on V8's background marking threads, the main thread and the workers' CPU
// unchanged (BENCHMARKS.md, 2026-12-04, session 12). 50% saved no more and cost more marking.
// How: set once in the process entry, before the relay starts; V8 reads it at every full
// collection, so it applies to every heap, the main thread's included. A value given on Node's
// command line is kept (Node refuses this option in NODE_OPTIONS).
import { setFlagsFromString } from 'node:v8'
import { nodeFlagNumber } from './node-flags.ts'

/** The old generation's growth past the live heap, in percent, unless Node was given one. */
export const HEAP_GROWING_PERCENT = 100

/**
 * Sets V8's heap growing percent to `HEAP_GROWING_PERCENT`, or leaves what Node's command line
 * says. Call it once, in the process entry. Returns the percent in force.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): number {
  const given = nodeFlagNumber(execArgv, 'heap-growing-percent')
  if (given !== null) return given
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  return HEAP_GROWING_PERCENT
}
