// Test support only (imported by the `*.test.ts` files here, never by relay code): reads the
// shared interop syntax fixtures, one case per line. Blank lines and comments (`#` alone or
// followed by a space) are skipped; every other line is a case, byte for byte, including
// leading or trailing whitespace (which several invalid cases depend on) and lines such as
// `#extra` that merely start with `#`.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const SYNTAX_DIR = join(import.meta.dirname, '../../../test/fixtures/interop/syntax')

export interface FixtureCase {
  readonly value: string
  /** 1-based line number in the fixture file, for assertion messages. */
  readonly line: number
  readonly file: string
}

/** All cases of `<name>_syntax_valid.txt` or `<name>_syntax_invalid.txt`. */
export function fixtureCases(name: string, validity: 'valid' | 'invalid'): FixtureCase[] {
  const file = `${name}_syntax_${validity}.txt`
  const text = readFileSync(join(SYNTAX_DIR, file), 'utf8')
  const cases: FixtureCase[] = []
  text.split('\n').forEach((value, index) => {
    if (value === '' || value === '#' || value.startsWith('# ')) return
    cases.push({ value, line: index + 1, file })
  })
  if (cases.length === 0) throw new Error(`no cases in ${file}`)
  return cases
}

/** A readable label for a case in assertion messages (long values are shortened). */
export function caseLabel(c: FixtureCase): string {
  const shown = c.value.length > 60 ? `${c.value.slice(0, 60)}… (${c.value.length} chars)` : c.value
  return `${c.file}:${c.line} ${JSON.stringify(shown)}`
}
