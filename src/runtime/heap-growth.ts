// How far each V8 heap of the relay (the main thread's and every thread's) may grow past what
// survived its last full collection before the next one: two and a half times that
// (`--heap-growing-percent=150`) instead of V8's own factor, which reaches 4x in a busy heap.
// Why less than V8's: the relay's garbage is mostly per event and dies young, but what a scavenge
// finds alive (events waiting for a verify worker, the account writer's batch) is promoted, so
// the old generation fills with dead objects at a steady rate; with V8's factor it grew to
// several times the live heap between full collections, and that was resident memory (peak RSS
// ~90 MB lower at 2x: BENCHMARKS.md, 2026-12-04, session 12).
// Why not 2x: with 2x growth the main heap started marking for its next full collection right
// after each one ended (session 26's trace: 1.4 full collections a second at 7,000 commits/s,
// 45 MB marked each time, most of V8's helper threads' CPU); V8 starts marking when the room
// left below the old generation's limit, or below the limit that also counts external memory
// (Buffers), is smaller than the young generation's capacity, and the main thread's young
// generation is large (16 MB semi-spaces). At 2.5x a third fewer full collections and V8's
// helper threads ~20% less CPU, at the same peak RSS as the alternative below (session 27).
// Why V8's own rule for when marking starts: V8's triggers (`--incremental-marking-soft-trigger`
// and `--incremental-marking-hard-trigger`, which session 26 set to 80/90% of the room) left the
// main heap to reach its limit before marking had started, so most of its full collections were
// atomic: a 30-50 ms stop of the main thread every ~2 s at 4,000 commits/s, p99 latency 70-85 ms
// where it is 50-55 without them, for no CPU saved (BENCHMARKS.md, 2026-12-05, session 27). In
// those runs every full collection by V8's rule was incremental, its final pause 5-25 ms.
// How: set once in the process entry, before the relay starts; V8 reads it at every full
// collection, so it applies to every heap, the main thread's included. A value given on Node's
// command line is kept (Node refuses it in NODE_OPTIONS), 0 included, which is V8's own factor;
// so are V8's marking triggers.
import { setFlagsFromString } from 'node:v8'
import { nodeFlagNumber } from './node-flags.ts'

/** The old generation's growth past the live heap, in percent, unless Node was given one. */
export const HEAP_GROWING_PERCENT = 150

/**
 * Sets V8's heap growing percent to `HEAP_GROWING_PERCENT`, or leaves what Node's command line
 * says. Call it once, in the process entry. Returns the percent in force (0: V8's own factor).
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): number {
  const given = nodeFlagNumber(execArgv, 'heap-growing-percent')
  if (given !== null) return given
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  return HEAP_GROWING_PERCENT
}
