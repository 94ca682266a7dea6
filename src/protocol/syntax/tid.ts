// TID syntax and values (https://atproto.com/specs/tid): 13 characters of base32-sortable
// (`234567abcdefghijklmnopqrstuvwxyz`), first character `234567abcdefghij` — a 64-bit integer
// whose low 10 bits are a clock identifier and whose upper bits are microseconds since the Unix
// epoch. Commit revs are TIDs. Also a monotonic clock that mints TIDs.
// Deliberately not checked: whether a timestamp is plausible (in the future, before atproto);
// that is a policy decision (see the `future-rev` drop reason). Timestamps at or above 2^53 µs
// (year 2255; first character `c`-`j`) parse with floating-point rounding.

import { InvalidSyntaxError } from './errors.ts'

export const TID_LENGTH = 13
const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz'
const CLOCK_ID_LIMIT = 1024

export interface ParsedTid {
  readonly timestampMicros: number
  readonly clockId: number
}

export function isValidTid(s: string): boolean {
  if (s.length !== TID_LENGTH) return false
  const first = s.charCodeAt(0)
  // '2'-'7' or 'a'-'j': the top bit of the 64-bit value must be zero.
  if (!((first >= 0x32 && first <= 0x37) || (first >= 0x61 && first <= 0x6a))) return false
  for (let i = 1; i < TID_LENGTH; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x32 && c <= 0x37))) return false
  }
  return true
}

export function assertTid(s: string): void {
  if (!isValidTid(s)) throw new InvalidSyntaxError('tid', s, tidProblem(s))
}

/** Timestamp (µs since epoch) and clock id of a TID; throws `InvalidSyntaxError` if invalid. */
export function parseTid(s: string): ParsedTid {
  assertTid(s)
  return { timestampMicros: timestampMicrosOf(s), clockId: digit(s, 11) * 32 + digit(s, 12) }
}

/** Milliseconds since the Unix epoch encoded in a TID (floored); throws if invalid. */
export function tidTimestampMs(s: string): number {
  assertTid(s)
  return Math.floor(timestampMicrosOf(s) / 1000)
}

/**
 * Orders two TIDs (or revs) by time then clock id. Valid TIDs have one length and an alphabet in
 * ASCII order, so this is a plain string comparison; it does not validate its arguments.
 */
export function compareTid(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Encodes a TID. `timestampMicros` must be a safe non-negative integer, `clockId` an integer in
 * 0-1023; otherwise throws `RangeError` (a programming error, not bad input from the network).
 */
export function createTid(timestampMicros: number, clockId: number): string {
  if (!Number.isSafeInteger(timestampMicros) || timestampMicros < 0) {
    throw new RangeError(
      `TID timestamp must be a safe non-negative integer, got ${timestampMicros}`,
    )
  }
  if (!Number.isInteger(clockId) || clockId < 0 || clockId >= CLOCK_ID_LIMIT) {
    throw new RangeError(`TID clock id must be an integer in 0-1023, got ${clockId}`)
  }
  let out = ''
  let rest = timestampMicros
  for (let i = 0; i < 11; i++) {
    const d = rest % 32
    out = ALPHABET[d]! + out
    rest = (rest - d) / 32
  }
  return out + ALPHABET[clockId >> 5]! + ALPHABET[clockId & 31]!
}

export interface TidClockOptions {
  /** Current time in microseconds since the Unix epoch (default: `Date.now() * 1000`). */
  readonly now?: () => number
  /** Clock id stamped into every TID, 0-1023 (default: random). */
  readonly clockId?: number
}

/**
 * Mints strictly increasing TIDs: each `next()` uses the current time, or one microsecond past
 * the previous TID when the clock has not advanced (or went backwards).
 */
export class TidClock {
  readonly clockId: number
  readonly #now: () => number
  #last = -1

  constructor(options: TidClockOptions = {}) {
    this.#now = options.now ?? (() => Date.now() * 1000)
    this.clockId = options.clockId ?? Math.floor(Math.random() * CLOCK_ID_LIMIT)
    if (!Number.isInteger(this.clockId) || this.clockId < 0 || this.clockId >= CLOCK_ID_LIMIT) {
      throw new RangeError(`TID clock id must be an integer in 0-1023, got ${this.clockId}`)
    }
  }

  next(): string {
    let ts = Math.floor(this.#now())
    if (ts <= this.#last) ts = this.#last + 1
    this.#last = ts
    return createTid(ts, this.clockId)
  }
}

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i)
  return c <= 0x37 ? c - 0x32 : c - 0x61 + 6
}

function timestampMicrosOf(s: string): number {
  let ts = 0
  for (let i = 0; i < 11; i++) ts = ts * 32 + digit(s, i)
  return ts
}

function tidProblem(s: string): string {
  if (s.length !== TID_LENGTH) return `must be ${TID_LENGTH} characters`
  const first = s.charCodeAt(0)
  if (first >= 0x6b && first <= 0x7a) return 'top bit must be zero (first character 2-7 or a-j)'
  return 'characters must be base32-sortable (2-7, a-z)'
}
