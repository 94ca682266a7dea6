// Tiny benchmark harness shared by the `*.bench.ts` files beside hot code, and the option checks
// the soak and load-generator commands share.
// `npm run bench` (bench/run.ts) runs every bench file in its own process, one after another,
// so one bench's JIT state or garbage does not skew the next. Nothing here asserts on speed.

import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

export interface BenchResult {
  readonly name: string
  readonly ops: number
  readonly seconds: number
  readonly perSecond: number
  readonly microsPerOp: number
}

export interface MeasureOptions {
  /** Minimum measuring time after warm-up, in milliseconds (default 1500). */
  readonly minMs?: number
  /** Warm-up time in milliseconds (default 300). */
  readonly warmupMs?: number
  /** How many operations one call of `fn` performs (default 1). */
  readonly opsPerCall?: number
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6

/** Runs `fn` repeatedly (synchronously) and reports operations per second. */
export function measure(name: string, fn: () => void, opts: MeasureOptions = {}): BenchResult {
  const { minMs = 1500, warmupMs = 300, opsPerCall = 1 } = opts
  const warmEnd = now() + warmupMs
  while (now() < warmEnd) fn()
  let calls = 0
  const start = now()
  let elapsed = 0
  while (elapsed < minMs) {
    for (let i = 0; i < 16; i++) fn()
    calls += 16
    elapsed = now() - start
  }
  return report(name, calls * opsPerCall, elapsed)
}

/** Like `measure`, for async operations (awaited one at a time). */
export async function measureAsync(
  name: string,
  fn: () => Promise<unknown>,
  opts: MeasureOptions = {},
): Promise<BenchResult> {
  const { minMs = 1500, warmupMs = 300, opsPerCall = 1 } = opts
  const warmEnd = now() + warmupMs
  while (now() < warmEnd) await fn()
  let calls = 0
  const start = now()
  let elapsed = 0
  while (elapsed < minMs) {
    for (let i = 0; i < 16; i++) await fn()
    calls += 16
    elapsed = now() - start
  }
  return report(name, calls * opsPerCall, elapsed)
}

function report(name: string, ops: number, ms: number): BenchResult {
  const seconds = ms / 1000
  const result: BenchResult = {
    name,
    ops,
    seconds,
    perSecond: ops / seconds,
    microsPerOp: (ms * 1000) / ops,
  }
  const rate = Math.round(result.perSecond).toLocaleString('en-US')
  console.log(
    `${name.padEnd(56)} ${rate.padStart(12)} /s  ${result.microsPerOp.toFixed(1).padStart(9)} µs/op`,
  )
  return result
}

/** Prints a free-form line in the bench output (a ratio, a share of time, a note). */
export function note(text: string): void {
  console.log(`  ${text}`)
}

/** A command-line option that must be a positive number; exits 2 with a message otherwise. */
export function positiveNumber(tool: string, name: string, text: string | undefined): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`${tool}: --${name} wants a positive number, not ${text}`)
    process.exit(2)
  }
  return n
}

/** Repeated `--name KEY=VALUE` options as an object; exits 2 on one without `=`. */
export function keyValues(
  tool: string,
  name: string,
  items: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of items) {
    const eq = kv.indexOf('=')
    if (eq <= 0) {
      console.error(`${tool}: --${name} wants KEY=VALUE, not ${kv}`)
      process.exit(2)
    }
    out[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  return out
}

/**
 * The Node flags of `npm start` (the tokens between `node` and the script in package.json's
 * start script), so that a run measures the relay as an operator starts it, young-generation
 * size and compile cache included, without a second copy of those flags here. A relative path
 * among them (the preloaded module) is made absolute: npm runs the script in the project's
 * directory, the benches run the relay in a directory of its own.
 */
export async function startScriptNodeFlags(): Promise<string[]> {
  const root = new URL('../', import.meta.url)
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
    scripts: { start: string }
  }
  const words = pkg.scripts.start.split(/\s+/)
  const script = words.findIndex((w) => w.endsWith('.ts'))
  if (words[0] !== 'node' || script < 0)
    throw new Error(`unexpected start script: ${pkg.scripts.start}`)
  return words
    .slice(1, script)
    .map((w) => (w.startsWith('./') ? fileURLToPath(new URL(w, root)) : w))
}

/**
 * The Node flags a bench starts the relay with: `npm start`'s (`startScriptNodeFlags`), then the
 * ones given, so that a run with a profiler or `--trace-gc` added still measures the relay as
 * shipped, and a given V8 flag wins over a start flag of the same name (V8 takes the last; a
 * Node option such as `--import` adds to the start script's instead). `withoutStart` leaves
 * `npm start`'s out: the given flags alone.
 */
export async function relayNodeFlags(
  given: readonly string[] | undefined,
  withoutStart: boolean,
): Promise<string[]> {
  return [...(withoutStart ? [] : await startScriptNodeFlags()), ...(given ?? [])]
}
