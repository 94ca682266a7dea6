// Character classes shared by the identifier validators of this folder: one lookup table indexed
// by UTF-16 code unit, so each validator checks a character with a single load and mask and
// never allocates. It knows nothing about any identifier's rules; those live in the files that
// use it. The table covers all 65,536 code units, so `charCodeAt` results index it in bounds.

export const DIGIT = 1 << 0
export const LOWER = 1 << 1
export const UPPER = 1 << 2
export const HYPHEN = 1 << 3
export const DOT = 1 << 4
export const UNDERSCORE = 1 << 5
export const COLON = 1 << 6
export const TILDE = 1 << 7
export const PERCENT = 1 << 8
export const PLUS = 1 << 9
export const EQUALS = 1 << 10

export const ALPHA = LOWER | UPPER
export const ALNUM = DIGIT | LOWER | UPPER

/** Class bits of every UTF-16 code unit; zero for anything outside printable ASCII classes. */
export const CHAR_CLASS: Uint16Array = buildTable()

function buildTable(): Uint16Array {
  const table = new Uint16Array(0x10000)
  for (let c = 0x30; c <= 0x39; c++) table[c] = DIGIT
  for (let c = 0x61; c <= 0x7a; c++) table[c] = LOWER
  for (let c = 0x41; c <= 0x5a; c++) table[c] = UPPER
  table[0x2d] = HYPHEN
  table[0x2e] = DOT
  table[0x5f] = UNDERSCORE
  table[0x3a] = COLON
  table[0x7e] = TILDE
  table[0x25] = PERCENT
  table[0x2b] = PLUS
  table[0x3d] = EQUALS
  return table
}

/** The class bits of the code unit at `i` (0 past the end of `s`). */
export function classAt(s: string, i: number): number {
  // charCodeAt past the end is NaN; NaN indexes nothing and `?? 0` covers it.
  return CHAR_CLASS[s.charCodeAt(i)] ?? 0
}
