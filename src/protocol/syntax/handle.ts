// Handle syntax (https://atproto.com/specs/handle): a DNS hostname of at least two labels, ASCII
// letters/digits/hyphens only (IDNs appear as punycode `xn--`), labels of 1-63 characters that
// neither start nor end with a hyphen, at most 253 characters overall, and a last label (TLD)
// that starts with a letter (so IP addresses are not handles). Also: lowercase normalization and
// the TLDs the spec disallows for resolution.
// Deliberately not checked: whether the handle resolves or its TLD exists (identity's job);
// `isValidHandle` accepts disallowed TLDs such as `.local` because they are syntactically valid.

import { ALNUM, ALPHA, CHAR_CLASS, HYPHEN } from './ascii-class.ts'
import { InvalidSyntaxError } from './errors.ts'

export const HANDLE_MAX_LENGTH = 253
const LABEL_MAX_LENGTH = 63
const C_DOT = 0x2e

export function isValidHandle(s: string): boolean {
  return handleProblem(s) === undefined
}

export function assertHandle(s: string): void {
  const problem = handleProblem(s)
  if (problem !== undefined) throw new InvalidSyntaxError('handle', s, problem)
}

/** The canonical form of a handle: ASCII lowercase. Does not validate. */
export function normalizeHandle(s: string): string {
  return s.toLowerCase()
}

const DISALLOWED_TLDS: ReadonlySet<string> = new Set([
  'alt',
  'arpa',
  'example',
  'internal',
  'invalid',
  'local',
  'localhost',
  'onion',
])

/**
 * True when the handle's last label is one the spec reserves (`.local`, `.arpa`, `.invalid`,
 * `.localhost`, `.internal`, `.example`, `.onion`, `.alt`): valid syntax, never resolvable.
 */
export function isDisallowedHandleTld(handle: string): boolean {
  const tld = handle.slice(handle.lastIndexOf('.') + 1)
  return DISALLOWED_TLDS.has(tld.toLowerCase())
}

function handleProblem(s: string): string | undefined {
  const n = s.length
  if (n > HANDLE_MAX_LENGTH) return `longer than ${HANDLE_MAX_LENGTH} characters`
  if (n === 0) return 'empty'
  let labelStart = 0
  let labels = 0
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c === C_DOT) {
      const problem = labelEndProblem(s, labelStart, i)
      if (problem !== undefined) return problem
      labels++
      labelStart = i + 1
      continue
    }
    const cls = CHAR_CLASS[c]!
    if ((cls & ALNUM) !== 0) continue
    if ((cls & HYPHEN) !== 0) {
      if (i === labelStart) return 'label starts with a hyphen'
      continue
    }
    return 'disallowed character'
  }
  const problem = labelEndProblem(s, labelStart, n)
  if (problem !== undefined) return problem
  if (labels === 0) return 'needs at least two labels'
  if ((CHAR_CLASS[s.charCodeAt(labelStart)]! & ALPHA) === 0) return 'TLD must start with a letter'
  return undefined
}

function labelEndProblem(s: string, start: number, end: number): string | undefined {
  const len = end - start
  if (len === 0) return 'empty label'
  if (len > LABEL_MAX_LENGTH) return `label longer than ${LABEL_MAX_LENGTH} characters`
  if (s.charCodeAt(end - 1) === 0x2d) return 'label ends with a hyphen'
  return undefined
}
