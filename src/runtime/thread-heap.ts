// The young generation of the threads the relay starts (verify workers, socket threads, the
// archive's writer): 4 MB semi-spaces, where the main thread keeps the 16 MB its command line
// gives it (`--max-semi-space-size=16`, package.json's start script).
// Why: V8 reads that flag when it sets up each isolate's heap, so every thread would otherwise
// grow its young generation to 32 MB too. A thread's garbage dies young (a verify task's decoded
// frame, CAR and tree nodes), so a smaller young generation costs it no CPU: a verify worker
// spent the same per commit with 4, 8 or 16 MB, and the relay peaked ~55 MB lower at 3,000
// commits/s (BENCHMARKS.md, 2026-12-04). The main thread keeps 16 MB: there the extra
// scavenges did cost CPU (BENCHMARKS.md, 2026-12-03, session 5).
// How: the flag is changed after the main thread's heap is set up and before any thread starts,
// so it applies to every thread created later (replacements included) and not to the main
// thread. Worker `resourceLimits` cannot do this: V8 lets the command-line flag override them.
import { setFlagsFromString } from 'node:v8'

/** Semi-space size of the threads' young generation, in MB (the generation holds two). */
export const THREAD_SEMI_SPACE_MB = 4

/**
 * Gives threads created from now on `THREAD_SEMI_SPACE_MB` semi-spaces, or the command line's
 * when it asks for less. Call it once, in the process entry, before the relay starts a thread.
 * Returns the size given.
 */
export function limitThreadYoungGeneration(execArgv: readonly string[] = process.execArgv): number {
  const given = commandLineSemiSpaceMb(execArgv)
  const mb = given !== null && given < THREAD_SEMI_SPACE_MB ? given : THREAD_SEMI_SPACE_MB
  setFlagsFromString(`--max-semi-space-size=${mb}`)
  return mb
}

/** `--max-semi-space-size` from Node's command line (its last one wins), or null. */
export function commandLineSemiSpaceMb(execArgv: readonly string[]): number | null {
  let mb: number | null = null
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!
    const m = /^--max[-_]semi[-_]space[-_]size(?:=(.*))?$/.exec(arg)
    if (!m) continue
    const value = Number(m[1] ?? execArgv[i + 1])
    if (Number.isFinite(value) && value > 0) mb = value
  }
  return mb
}
