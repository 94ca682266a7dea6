// CID string syntax, as loosely as atproto's interop fixtures define it: 8-256 characters of
// ASCII letters, digits, `+` and `=` (multibase alphabets that fit), and not a legacy CIDv0
// (base58 `Qm…`), which atproto does not accept.
// Deliberately not checked: that the string decodes (multibase prefix, varints, codec, hash);
// code that needs the CID itself parses it with the CID module and gets that check there.

import { ALNUM, CHAR_CLASS, EQUALS, PLUS } from './ascii-class.ts'
import { InvalidSyntaxError } from './errors.ts'

const CID_MIN_LENGTH = 8
const CID_MAX_LENGTH = 256
const CID_CHARS = ALNUM | PLUS | EQUALS

export function isValidCidString(s: string): boolean {
  return cidProblem(s) === undefined
}

export function assertCidString(s: string): void {
  const problem = cidProblem(s)
  if (problem !== undefined) throw new InvalidSyntaxError('cid', s, problem)
}

function cidProblem(s: string): string | undefined {
  const n = s.length
  if (n < CID_MIN_LENGTH || n > CID_MAX_LENGTH) {
    return `length must be ${CID_MIN_LENGTH}-${CID_MAX_LENGTH}`
  }
  for (let i = 0; i < n; i++) {
    if ((CHAR_CLASS[s.charCodeAt(i)]! & CID_CHARS) === 0) return 'disallowed character'
  }
  if (s.charCodeAt(0) === 0x51 && s.charCodeAt(1) === 0x6d) return 'CIDv0 is not supported'
  return undefined
}
