// NSID syntax (https://atproto.com/specs/nsid): at least three dot-separated segments, ASCII only,
// at most 317 characters, each segment 1-63 characters. The leading segments are the reversed
// domain authority: letters, digits and inner hyphens, the first (the TLD) starting with a letter.
// The last segment is the name: letters and digits only, starting with a letter.
// Deliberately not checked: the 253-character limit on the authority part alone (the interop
// fixtures accept longer authorities, as the reference implementations do), case normalization
// of the authority, and whether a lexicon exists for the NSID.

import { ALNUM, ALPHA, CHAR_CLASS, HYPHEN } from './ascii-class.ts'
import { InvalidSyntaxError } from './errors.ts'

export const NSID_MAX_LENGTH = 317
const SEGMENT_MAX_LENGTH = 63
const C_DOT = 0x2e

export function isValidNsid(s: string): boolean {
  return nsidSpanProblem(s, 0, s.length) === undefined
}

export function assertNsid(s: string): void {
  const problem = nsidSpanProblem(s, 0, s.length)
  if (problem !== undefined) throw new InvalidSyntaxError('nsid', s, problem)
}

/**
 * Why `s.slice(start, end)` is not an NSID, or undefined when it is. Works on a span so repo
 * paths can be checked without slicing. Internal to this folder.
 */
export function nsidSpanProblem(s: string, start: number, end: number): string | undefined {
  if (end - start > NSID_MAX_LENGTH) return `longer than ${NSID_MAX_LENGTH} characters`
  let segStart = start
  let segments = 0
  let segHasHyphen = false
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c === C_DOT) {
      const problem = authoritySegmentProblem(s, segStart, i, segments === 0)
      if (problem !== undefined) return problem
      segments++
      segStart = i + 1
      segHasHyphen = false
      continue
    }
    const cls = CHAR_CLASS[c]!
    if ((cls & ALNUM) !== 0) continue
    if ((cls & HYPHEN) !== 0) {
      if (i === segStart) return 'segment starts with a hyphen'
      segHasHyphen = true
      continue
    }
    return 'disallowed character'
  }
  if (segments < 2) return 'needs at least three segments'
  const nameLength = end - segStart
  if (nameLength === 0) return 'empty name segment'
  if (nameLength > SEGMENT_MAX_LENGTH) return `name longer than ${SEGMENT_MAX_LENGTH} characters`
  if (segHasHyphen) return 'name segment must not contain hyphens'
  if ((CHAR_CLASS[s.charCodeAt(segStart)]! & ALPHA) === 0) return 'name must start with a letter'
  return undefined
}

function authoritySegmentProblem(
  s: string,
  start: number,
  end: number,
  isFirst: boolean,
): string | undefined {
  const len = end - start
  if (len === 0) return 'empty segment'
  if (len > SEGMENT_MAX_LENGTH) return `segment longer than ${SEGMENT_MAX_LENGTH} characters`
  if (s.charCodeAt(end - 1) === 0x2d) return 'segment ends with a hyphen'
  if (isFirst && (CHAR_CLASS[s.charCodeAt(start)]! & ALPHA) === 0) {
    return 'first segment must start with a letter'
  }
  return undefined
}
