// The `.env` file format, parsed here rather than by a dependency:
//   KEY=value            value trimmed; ` # comment` after whitespace is dropped (`a#b` is kept)
//   export KEY=value     the `export ` prefix of shell files is ignored
//   KEY="a\nb"           double quotes: \n \r \t \" \\ \$ are escapes; may span lines
//   KEY='literal'        single quotes: no escapes; may span lines
//   # comment, blank lines
// Later lines override earlier ones. No variable interpolation (`${X}` stays as written). A UTF-8
// byte-order mark and CRLF line ends are accepted. Anything else is a ConfigError naming the file
// and line.
// Deliberately not here: deciding what keys mean (the loader looks up the ones it knows).

import { ConfigError } from './errors.ts'

export interface DotenvEntry {
  readonly value: string
  /** 1-based line where the entry starts. */
  readonly line: number
}

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=[ \t]*(.*)$/
const DOUBLE_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  r: '\r',
  t: '\t',
  '"': '"',
  '\\': '\\',
  $: '$',
}

/** Parse the text of a `.env` file; `fileName` is only used in error messages. */
export function parseDotenv(text: string, fileName: string): Map<string, DotenvEntry> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const entries = new Map<string, DotenvEntry>()
  const fail = (line: number, problem: string): never => {
    throw new ConfigError('dotenv-syntax', '.env', `${fileName}:${line}`, problem)
  }
  let index = 0
  while (index < lines.length) {
    const lineNo = index + 1
    const line = lines[index] ?? ''
    index++
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const match = ASSIGNMENT.exec(line)
    if (match === null) {
      const hint = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*$/.test(line)
        ? ' (no "=")'
        : ' (a name is letters, digits and _, not starting with a digit)'
      fail(lineNo, `expected KEY=value${hint}`)
    }
    const key = match?.[1] ?? ''
    let rest = match?.[2] ?? ''
    const quoteChar = rest[0]
    if (quoteChar !== '"' && quoteChar !== "'") {
      const comment = rest.search(/\s#/)
      entries.set(key, {
        value: (comment < 0 ? rest : rest.slice(0, comment)).trim(),
        line: lineNo,
      })
      continue
    }
    // Quoted: read until the matching quote, across lines if need be.
    let value = ''
    let pos = 1
    for (;;) {
      if (pos >= rest.length) {
        if (index >= lines.length) {
          fail(lineNo, `${quoteChar === '"' ? 'double' : 'single'} quote is never closed`)
        }
        value += '\n'
        rest = lines[index] ?? ''
        index++
        pos = 0
        continue
      }
      const char = rest[pos] ?? ''
      if (char === quoteChar) break
      if (char === '\\' && quoteChar === '"' && pos + 1 < rest.length) {
        const next = rest[pos + 1] ?? ''
        value += DOUBLE_ESCAPES[next] ?? `\\${next}`
        pos += 2
        continue
      }
      value += char
      pos++
    }
    const after = rest.slice(pos + 1)
    if (!/^\s*(?:#.*)?$/.test(after)) {
      fail(index, `unexpected text after the closing quote: ${JSON.stringify(after.trim())}`)
    }
    entries.set(key, { value, line: lineNo })
  }
  return entries
}
