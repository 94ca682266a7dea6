import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseDotenv } from './dotenv.ts'
import { ConfigError } from './errors.ts'

const values = (text: string): Record<string, string> =>
  Object.fromEntries([...parseDotenv(text, '/srv/.env')].map(([key, entry]) => [key, entry.value]))

const syntaxError = (line: number, pattern: RegExp) => (error: unknown) =>
  error instanceof ConfigError &&
  error.code === 'dotenv-syntax' &&
  error.setting === '.env' &&
  error.origin === `/srv/.env:${line}` &&
  error.message.startsWith(`.env (from /srv/.env:${line}): `) &&
  pattern.test(error.message)

describe('parseDotenv', () => {
  test('plain assignments, comments, blank lines, export prefix', () => {
    const text = [
      '# relay settings',
      '',
      'RELAY_API_BIND=:2470',
      '  RELAY_LOG_LEVEL = debug  ',
      'export DATABASE_URL=postgres://db/relay',
      'export\tRELAY_ENV_X=1',
      '   # indented comment',
      'EMPTY=',
      'lower_case.dotted=ok',
    ].join('\n')
    assert.deepEqual(values(text), {
      RELAY_API_BIND: ':2470',
      RELAY_LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgres://db/relay',
      RELAY_ENV_X: '1',
      EMPTY: '',
      'lower_case.dotted': 'ok',
    })
  })

  test('inline comments need whitespace before #; = inside values is kept', () => {
    assert.deepEqual(values('A=value # comment\nB=a#b\nC=x=y=z\nD=#notacomment'), {
      A: 'value',
      B: 'a#b',
      C: 'x=y=z',
      D: '#notacomment',
    })
  })

  test('double quotes: escapes, # and spaces kept, comments after, multi-line', () => {
    const text = [
      'A="two words # not a comment"',
      'B="line1\\nline2\\t\\"q\\" \\\\ \\$HOME \\x"',
      'C="quoted" # trailing comment',
      'D="first',
      'second"',
      'E=""',
    ].join('\n')
    assert.deepEqual(values(text), {
      A: 'two words # not a comment',
      B: 'line1\nline2\t"q" \\ $HOME \\x',
      C: 'quoted',
      D: 'first\nsecond',
      E: '',
    })
  })

  // `${X}` written without a template literal would read as a mistake; this is the literal text.
  const home = `\${HOME}`

  test('single quotes are literal, may span lines', () => {
    assert.deepEqual(values(`A='no \\n escapes ${home}'\nB='multi\nline'  `), {
      A: `no \\n escapes ${home}`,
      B: 'multi\nline',
    })
  })

  test('no interpolation: variable references stay as written', () => {
    assert.deepEqual(values(`A=${home}/x\nB="${home}"`), { A: `${home}/x`, B: home })
  })

  test('CRLF line ends, a byte-order mark, and later lines overriding earlier ones', () => {
    assert.deepEqual(values('\uFEFFA=1\r\nB="x"\r\nA=2\r\n'), { A: '2', B: 'x' })
  })

  test('entries remember their line', () => {
    const entries = parseDotenv('# c\n\nA=1\nB="x\ny"\nC=3', '/srv/.env')
    assert.equal(entries.get('A')?.line, 3)
    assert.equal(entries.get('B')?.line, 4)
    assert.equal(entries.get('C')?.line, 6)
  })

  test('malformed lines are errors naming the file and line', () => {
    const cases: [string, number, RegExp][] = [
      ['A=1\nJUSTAKEY\n', 2, /expected KEY=value \(no "="\)/],
      ['A=1\nexport B\n', 2, /no "="/],
      ['1A=x', 1, /expected KEY=value \(a name is letters/],
      ['A B=x', 1, /expected KEY=value/],
      ['=x', 1, /expected KEY=value/],
      ['A="unterminated\nB=2', 1, /double quote is never closed/],
      ["A='unterminated", 1, /single quote is never closed/],
      ['X=1\nA="x" trailing', 2, /unexpected text after the closing quote: "trailing"/],
      ['A="multi\nline" junk', 2, /unexpected text after the closing quote/],
    ]
    for (const [text, line, pattern] of cases) {
      assert.throws(() => parseDotenv(text, '/srv/.env'), syntaxError(line, pattern), text)
    }
  })

  test('empty file and comment-only file', () => {
    assert.deepEqual(values(''), {})
    assert.deepEqual(values('# nothing\n\n'), {})
  })
})
