// Building blocks for the decoder fuzzers of test/conformance/fuzz-*.test.ts: byte damage
// (flips, overwrites, insertions, deletions, truncations), CBOR heads and multiformats varints
// that claim enormous lengths, deep nesting, the "only the decoder's own error" check, and a
// memory guard. Nothing here knows a decoder's rules; the test files state those.
import assert from 'node:assert/strict'
import fc from 'fast-check'

/** One piece of damage to a byte string; positions are taken modulo its length. */
export type Damage =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'truncate'; readonly at: number }

export const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
)

/** 1 to `max` pieces of damage. */
export const damages = (max = 3): fc.Arbitrary<Damage[]> =>
  fc.array(damage, { minLength: 1, maxLength: max })

/** A damaged copy of `bytes` (the original is not changed). */
export function applyDamage(bytes: Uint8Array, list: readonly Damage[]): Uint8Array {
  let out = Uint8Array.from(bytes)
  for (const d of list) {
    const n = out.length
    if (d.kind === 'insert') {
      const at = n === 0 ? 0 : d.at % (n + 1)
      out = Uint8Array.from([...out.subarray(0, at), ...d.bytes, ...out.subarray(at)])
      continue
    }
    if (n === 0) continue
    const at = d.at % n
    if (d.kind === 'flip') out[at]! ^= 1 << d.bit
    else if (d.kind === 'set') out[at] = d.value
    else if (d.kind === 'delete')
      out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + d.count)])
    else out = out.slice(0, at)
  }
  return out
}

/**
 * Lengths a hostile header may claim: past 2^31 (signed 32-bit), 2^32, the largest safe
 * integer and just past it, and the largest 64-bit value. A decoder that allocated before
 * comparing with the input it has would ask for gigabytes or fail with a RangeError.
 */
export const HUGE_LENGTHS: readonly bigint[] = [
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 64n - 1n,
]

/** A CBOR head of `major` with argument `n`, in its shortest form or in `width` bytes. */
export function cborHead(major: number, n: bigint, width?: 1 | 2 | 4 | 8): Uint8Array {
  const w = width ?? (n < 24n ? 0 : n < 0x100n ? 1 : n < 0x10000n ? 2 : n < 0x100000000n ? 4 : 8)
  if (w === 0) return Uint8Array.of((major << 5) | Number(n))
  const info = { 1: 24, 2: 25, 4: 26, 8: 27 }[w]!
  const out = new Uint8Array(1 + w)
  out[0] = (major << 5) | info
  for (let i = 0; i < w; i++) out[w - i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}

/** An unsigned LEB128 varint (multiformats, CAR lengths) of `n`, with `pad` extra 0x80 groups. */
export function varint(n: bigint, pad = 0): Uint8Array {
  const out: number[] = []
  do {
    out.push(Number(n & 0x7fn) | 0x80)
    n >>= 7n
  } while (n > 0n)
  for (let i = 0; i < pad; i++) out.push(0x80)
  out.push(0)
  // the last group carries no continuation bit: drop the trailing zero unless padding needs it
  if (pad === 0) {
    out.pop()
    out[out.length - 1]! &= 0x7f
  }
  return Uint8Array.from(out)
}

/** `depth` nested CBOR containers (arrays, single-entry maps with key "a", or tag-42s) around 0x01. */
export function nestedCbor(depth: number, kind: 'array' | 'map' | 'mixed'): Uint8Array {
  const unit = (i: number) =>
    kind === 'array' || (kind === 'mixed' && i % 2 === 0) ? [0x81] : [0xa1, 0x61, 0x61]
  const parts: number[] = []
  for (let i = 0; i < depth; i++) parts.push(...unit(i))
  parts.push(0x01)
  return Uint8Array.from(parts)
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: any error class
type ErrorClass = abstract new (...args: any[]) => Error

/**
 * Runs `fn` and requires it to return or to throw an instance of `errorClass` (never a
 * TypeError, RangeError, stack overflow or any other error). Returns the value, or the error.
 */
export function onlyTyped<T>(
  fn: () => T,
  errorClass: ErrorClass,
  what: string,
): { ok: true; value: T } | { ok: false; error: Error } {
  try {
    return { ok: true, value: fn() }
  } catch (err) {
    if (err instanceof errorClass) return { ok: false, error: err }
    assert.fail(
      `${what}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}, not ${errorClass.name}`,
    )
  }
}

/** Memory in use now: heap and array buffers (typed arrays live outside the JS heap). */
function memoryNow(): { heap: number; buffers: number } {
  const m = process.memoryUsage()
  return { heap: m.heapUsed, buffers: m.arrayBuffers }
}

/**
 * Runs `fn` (one decoder call) and requires that memory in use grew by less than `limitMB`
 * across it: a decoder that trusted a claimed length of 2^31 or more items or bytes would grow it
 * by gigabytes (or fail trying), far past the garbage one call on a small input leaves behind.
 * Measured per call, not over a whole run, so uncollected garbage of earlier calls does not add
 * up; a collection during the call only makes the growth smaller.
 */
export function withBoundedMemory<T>(limitMB: number, fn: () => T): T {
  const before = memoryNow()
  const value = fn()
  const after = memoryNow()
  const heapMB = (after.heap - before.heap) / 2 ** 20
  const buffersMB = (after.buffers - before.buffers) / 2 ** 20
  assert.ok(heapMB < limitMB, `heap grew by ${heapMB.toFixed(1)} MB in one call`)
  assert.ok(buffersMB < limitMB, `array buffers grew by ${buffersMB.toFixed(1)} MB in one call`)
  return value
}

/**
 * fast-check parameters of the decoder fuzzers: the fixed seed, `runs` runs, and a time limit
 * per property that is a hang guard (an endless loop fails the run), not a speed requirement:
 * 60 s, or 5 ms a run for the long mode's many runs (the slowest property takes ~1 ms a run on
 * the development box; a flat 60 s cut the long mode's 100,000 MST runs off at ~58,000).
 */
export function fuzzParams(seed: number, runs: number): fc.Parameters<unknown> {
  const interruptAfterTimeLimit = Math.max(60_000, runs * 5)
  return { seed, numRuns: runs, interruptAfterTimeLimit, markInterruptAsFailure: true }
}
