// Record key syntax (https://atproto.com/specs/record-key): 1-512 characters from
// `A-Za-z0-9._:~-`, and not `.` or `..`.
// Deliberately not checked: the key type a collection's lexicon requires (tid, nsid, literal:…,
// any); that is schema validation, not syntax.

import { ALNUM, CHAR_CLASS, COLON, DOT, HYPHEN, TILDE, UNDERSCORE } from './ascii-class.ts'
import { InvalidSyntaxError } from './errors.ts'

export const RECORD_KEY_MAX_LENGTH = 512
const RKEY_CHARS = ALNUM | DOT | UNDERSCORE | COLON | TILDE | HYPHEN

export function isValidRecordKey(s: string): boolean {
  return recordKeySpanProblem(s, 0, s.length) === undefined
}

export function assertRecordKey(s: string): void {
  const problem = recordKeySpanProblem(s, 0, s.length)
  if (problem !== undefined) throw new InvalidSyntaxError('record-key', s, problem)
}

/** Why `s.slice(start, end)` is not a record key, or undefined. Internal to this folder. */
export function recordKeySpanProblem(s: string, start: number, end: number): string | undefined {
  const len = end - start
  if (len === 0) return 'empty'
  if (len > RECORD_KEY_MAX_LENGTH) return `longer than ${RECORD_KEY_MAX_LENGTH} characters`
  for (let i = start; i < end; i++) {
    if ((CHAR_CLASS[s.charCodeAt(i)]! & RKEY_CHARS) === 0) return 'disallowed character'
  }
  if (len <= 2 && s.charCodeAt(start) === 0x2e && s.charCodeAt(end - 1) === 0x2e) {
    return '"." and ".." are not record keys'
  }
  return undefined
}
