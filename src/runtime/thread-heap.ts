// The young generation of the threads the relay starts (verify workers, socket threads, the
// archive's writer): 4 MB semi-spaces (an 8 MB young generation), where the main thread keeps
// the 16 MB semi-spaces its command line gives it (`--max-semi-space-size=16`, the start script).
// Why: V8 reads that flag when it sets up each isolate's heap, so every thread would otherwise
// grow its young generation to 32 MB too. A thread's garbage dies young (a verify task's decoded
// frame, CAR and tree nodes), so a smaller young generation costs it no CPU: a verify worker
// spent the same per commit with 4, 8 or 16 MB semi-spaces, and the relay peaked ~55 MB lower
// at 3,000 commits/s (BENCHMARKS.md, 2026-12-04, session 10). The main thread keeps its 16 MB:
// its objects live longer (events in flight, buffered records), and 8 MB showed no clear gain
// in memory there (same session).
// How: the flag is changed after the main thread's heap is set up and before any thread starts,
// so it applies to every thread created later (replacements included) and not to the main
// thread. Worker `resourceLimits` cannot do this: V8 lets the command-line flag override them.
import { setFlagsFromString } from 'node:v8'
import { nodeFlagNumber, nodeOptionArgs } from './node-flags.ts'

/** Semi-space size of the threads' young generation, in MB (the generation holds two). */
export const THREAD_SEMI_SPACE_MB = 4

/**
 * Gives threads created from now on `THREAD_SEMI_SPACE_MB` semi-spaces, or what Node was given
 * (its command line or NODE_OPTIONS) when that is less. Call it once, in the process entry,
 * before the relay starts a thread. Returns the size given.
 */
export function limitThreadYoungGeneration(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): number {
  const given = commandLineSemiSpaceMb(nodeOptionArgs(execArgv, nodeOptions))
  const mb = given !== null && given < THREAD_SEMI_SPACE_MB ? given : THREAD_SEMI_SPACE_MB
  setFlagsFromString(`--max-semi-space-size=${mb}`)
  return mb
}

/** `--max-semi-space-size=N` among Node's options (the last one wins), or null; 0, V8's own
 * default, is no size given either. */
export function commandLineSemiSpaceMb(args: readonly string[]): number | null {
  const mb = nodeFlagNumber(args, 'max-semi-space-size')
  return mb === 0 ? null : mb
}
