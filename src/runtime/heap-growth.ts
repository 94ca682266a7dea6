// How far each V8 heap of the relay (the main thread's and every thread's) may grow past what
// survived its last full collection before the next one, and when the marking for it starts.
// How far: twice that
// (`--heap-growing-percent=100`) instead of V8's own factor, which reaches 4x in a busy heap.
// Why: the relay's garbage is mostly per event and dies young, but what a scavenge finds alive
// (events waiting for a verify worker, the account writer's batch) is promoted, so the old
// generation fills with dead objects at a steady rate; with V8's factor it grew to several
// times the live heap between full collections, and that was resident memory. With 2x, peak RSS
// under the load generator fell ~90 MB (~400 -> ~310 MB at 3,000 and 4,000 commits/s) for a
// little more work on V8's background marking threads, the main thread and the workers' CPU
// unchanged (BENCHMARKS.md, 2026-12-04, session 12). 50% saved no more and cost more marking.
// When marking starts: with V8's own rule a heap starts marking for its next full collection as
// soon as the room left below its limit is less than its young generation, and with 2x growth
// and the main thread's 32 MB young generation that was right after each collection ended: at
// 7,000 commits/s the main heap was marked ~1.4 times a second, 45 MB each time, most of V8's
// helper threads' ~0.14 cores. The relay sets V8's own triggers instead, which count the room
// between the size after the last collection and the limit: marking starts by a task once a heap
// has used 80% of that room (with 2x growth, at ~90% of the limit), at once past 90%. While they
// are set V8 also skips its rule of marking early to save memory; it still does under memory
// pressure, and the limit itself is unchanged. Full collections of the main heap fell to a few a
// minute (most now started by external memory), the relay's CPU at 7,000/s by ~5%, for the
// heaps now filling the room the 2x growth allows them: peak RSS ~10–60 MB higher (BENCHMARKS.md,
// 2026-12-05, session 26). `--incremental-marking-soft-trigger=0` and
// `--incremental-marking-hard-trigger=0` on Node's command line give V8's own rule back.
// How: set once in the process entry, before the relay starts; V8 reads them at every full
// collection and every allocation step, so they apply to every heap, the main thread's
// included. A value given on Node's command line is kept (Node refuses these in NODE_OPTIONS).
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

/** Marking starts by a task once a heap has used this share of its room since the last full
 * collection (limit minus the size it left), in percent. */
export const MARKING_SOFT_TRIGGER_PERCENT = 80
/** Marking starts at once past this share. */
export const MARKING_HARD_TRIGGER_PERCENT = 90

/**
 * Sets V8's incremental-marking triggers to the relay's, each unless Node's command line gives
 * it (0 included: V8's own rule). Call it once, in the process entry. Returns the percents in
 * force.
 */
export function delayMarking(execArgv: readonly string[] = process.execArgv): {
  readonly soft: number
  readonly hard: number
} {
  const trigger = (name: string, percent: number): number => {
    const given = nodeFlagNumber(execArgv, name, { zero: true })
    if (given !== null) return given
    setFlagsFromString(`--${name}=${percent}`)
    return percent
  }
  return {
    soft: trigger('incremental-marking-soft-trigger', MARKING_SOFT_TRIGGER_PERCENT),
    hard: trigger('incremental-marking-hard-trigger', MARKING_HARD_TRIGGER_PERCENT),
  }
}
