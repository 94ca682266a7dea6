// Lexicon datetime syntax (https://atproto.com/specs/lexicon#datetime): the intersection of
// RFC 3339 and ISO 8601 — `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, uppercase `T` and `Z`,
// seconds and timezone required, `-00:00` rejected, at most 64 characters. Fields must be in
// range for the calendar (month 01-12, day within that month of that year, hour 00-23, minute and
// second 00-59, offset hour 00-23).
// Deliberately: leap second `:60` is rejected (neither JavaScript's Date nor the Go reference
// accept it), impossible dates such as Feb 30 are rejected (JavaScript's Date would roll them
// over), years 0000-9999 only. No conversion to a Date happens here.

import { InvalidSyntaxError } from './errors.ts'

export const DATETIME_MAX_LENGTH = 64

const C_HYPHEN = 0x2d
const C_COLON = 0x3a
const C_DOT = 0x2e
const C_PLUS = 0x2b
const C_T = 0x54
const C_Z = 0x5a

export function isValidDatetime(s: string): boolean {
  return datetimeProblem(s) === undefined
}

export function assertDatetime(s: string): void {
  const problem = datetimeProblem(s)
  if (problem !== undefined) throw new InvalidSyntaxError('datetime', s, problem)
}

function datetimeProblem(s: string): string | undefined {
  const n = s.length
  if (n > DATETIME_MAX_LENGTH) return `longer than ${DATETIME_MAX_LENGTH} characters`
  // Shortest form: YYYY-MM-DDTHH:MM:SSZ (20 characters).
  if (n < 20) return 'too short'
  const yearHi = twoDigits(s, 0)
  const yearLo = twoDigits(s, 2)
  const month = twoDigits(s, 5)
  const day = twoDigits(s, 8)
  const hour = twoDigits(s, 11)
  const minute = twoDigits(s, 14)
  const second = twoDigits(s, 17)
  if (
    yearHi < 0 ||
    yearLo < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    s.charCodeAt(4) !== C_HYPHEN ||
    s.charCodeAt(7) !== C_HYPHEN ||
    s.charCodeAt(10) !== C_T ||
    s.charCodeAt(13) !== C_COLON ||
    s.charCodeAt(16) !== C_COLON
  ) {
    return 'not YYYY-MM-DDTHH:MM:SS'
  }
  const year = yearHi * 100 + yearLo
  if (month < 1 || month > 12) return 'month out of range'
  if (day < 1 || day > daysInMonth(year, month)) return 'day out of range'
  if (hour > 23 || minute > 59 || second > 59) return 'time out of range'

  let i = 19
  if (s.charCodeAt(i) === C_DOT) {
    i++
    const fractionStart = i
    while (i < n && isDigit(s.charCodeAt(i))) i++
    if (i === fractionStart) return 'empty fractional seconds'
  }
  if (i >= n) return 'timezone is required'
  const tz = s.charCodeAt(i)
  if (tz === C_Z) return i === n - 1 ? undefined : 'trailing characters after "Z"'
  if (tz !== C_PLUS && tz !== C_HYPHEN) return 'timezone must be "Z" or ±HH:MM'
  if (n - i !== 6) return 'timezone offset must be ±HH:MM'
  const offHour = twoDigits(s, i + 1)
  const offMinute = twoDigits(s, i + 4)
  if (offHour < 0 || offMinute < 0 || s.charCodeAt(i + 3) !== C_COLON) {
    return 'timezone offset must be ±HH:MM'
  }
  if (offHour > 23 || offMinute > 59) return 'timezone offset out of range'
  if (tz === C_HYPHEN && offHour === 0 && offMinute === 0) return '"-00:00" is not allowed'
  return undefined
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/** The value of the two decimal digits at `i`, or -1 (also past the end of `s`). */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i)
  const b = s.charCodeAt(i + 1)
  if (!isDigit(a) || !isDigit(b)) return -1
  return (a - 0x30) * 10 + (b - 0x30)
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
    return leap ? 29 : 28
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}
