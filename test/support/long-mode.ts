// The reliability tests (hostile hosts and consumers, crash loops, fuzzing) run a short,
// fixed-seed version in `npm test`, well inside CI's time. `npm run test:long` sets
// RELAY_TEST_LONG=1 for a manual run that repeats them many times over (more fuzz runs, more
// kill cycles, more connections); RELAY_TEST_SEED picks another seed for the fuzzers.

/** True in the long manual mode (`npm run test:long`). */
export const LONG = process.env.RELAY_TEST_LONG === '1'

/** `short` in `npm test`, `long` in the long manual mode. */
export function scaled(short: number, long: number): number {
  return LONG ? long : short
}

/** The fuzzers' seed: fixed, so a failure in CI is reproduced by running the test again. */
export const SEED = Number(process.env.RELAY_TEST_SEED ?? 20261202)
