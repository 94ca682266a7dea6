import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { helpText, parseCommandLine } from './cli.ts'
import { ConfigError } from './errors.ts'
import { SETTINGS } from './settings.ts'

const flagValues = (argv: string[], flag: string): string[] =>
  (parseCommandLine(argv).flags.get(flag) ?? []).map((value) => value.value)

describe('parseCommandLine', () => {
  test('command, args and flags in any order', () => {
    const line = parseCommandLine(['--log-level', 'debug', 'serve', 'extra', '--bind=:1'])
    assert.equal(line.command, 'serve')
    assert.deepEqual(line.args, ['extra'])
    assert.deepEqual(line.flags.get('log-level'), [{ spelled: '--log-level', value: 'debug' }])
    assert.deepEqual(line.flags.get('bind'), [{ spelled: '--bind', value: ':1' }])
    assert.equal(line.help, false)
    assert.equal(line.version, false)
  })

  test('no command is the empty string', () => {
    assert.equal(parseCommandLine([]).command, '')
    assert.equal(parseCommandLine(['--bind', ':1']).command, '')
  })

  test('aliases and single-dash spellings map to the canonical flag, keeping the spelling', () => {
    const line = parseCommandLine(['--api-listen', ':1', '-admin-key=k', '-replay-window', '1h'])
    assert.deepEqual(line.flags.get('bind'), [{ spelled: '--api-listen', value: ':1' }])
    assert.deepEqual(line.flags.get('admin-password'), [{ spelled: '--admin-key', value: 'k' }])
    assert.deepEqual(line.flags.get('replay-window'), [{ spelled: '--replay-window', value: '1h' }])
  })

  test('boolean flags: alone, =value, --no-', () => {
    assert.deepEqual(flagValues(['--allow-insecure-hosts', 'serve'], 'allow-insecure-hosts'), [
      'true',
    ])
    assert.equal(parseCommandLine(['--allow-insecure-hosts', 'serve']).command, 'serve')
    assert.deepEqual(flagValues(['--allow-insecure-hosts=false'], 'allow-insecure-hosts'), [
      'false',
    ])
    assert.deepEqual(flagValues(['--no-allow-insecure-hosts'], 'allow-insecure-hosts'), ['false'])
    assert.deepEqual(
      parseCommandLine(['--no-disable-request-crawl']).flags.get('disable-request-crawl'),
      [{ spelled: '--no-disable-request-crawl', value: 'false' }],
    )
  })

  test('--no- on a value flag, or with a value, is an error', () => {
    assert.throws(
      () => parseCommandLine(['--no-bind']),
      (error: unknown) => error instanceof ConfigError && error.code === 'unknown-flag',
    )
    assert.throws(
      () => parseCommandLine(['--no-allow-insecure-hosts=true']),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === 'unexpected-value' &&
        error.setting === '--allow-insecure-hosts' &&
        /takes no value/.test(error.message),
    )
  })

  test('values: empty after =, starting with a single dash, repeated (last wins, lists keep all)', () => {
    assert.deepEqual(flagValues(['--user-agent-contact='], 'user-agent-contact'), [''])
    assert.deepEqual(flagValues(['--initial-seq-number', '-5'], 'initial-seq-number'), ['-5'])
    assert.deepEqual(flagValues(['--bind', ':1', '--bind', ':2'], 'bind'), [':1', ':2'])
    assert.deepEqual(
      flagValues(['--admin-password', 'a', '--admin-key', 'b,c'], 'admin-password'),
      ['a', 'b,c'],
    )
  })

  test('a value flag without a value is an error naming it', () => {
    for (const argv of [
      ['--bind'],
      ['--bind', '--log-level', 'debug'],
      ['serve', '--api-listen'],
    ]) {
      assert.throws(
        () => parseCommandLine(argv),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.code === 'missing-value' &&
          error.setting === '--bind' &&
          /needs a value \(--(bind|api-listen) HOST:PORT\)/.test(error.message),
        argv.join(' '),
      )
    }
  })

  test('unknown flags are errors, with a suggestion when one is close', () => {
    assert.throws(
      () => parseCommandLine(['serve', '--replay-windwo', '1h']),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === 'unknown-flag' &&
        error.setting === '--replay-windwo' &&
        error.message === '--replay-windwo: unknown flag (did you mean --replay-window?)',
    )
    assert.throws(() => parseCommandLine(['--frobnicate']), /unknown flag \(see relay --help\)/)
  })

  test('-- ends flags; a lone - is positional', () => {
    const line = parseCommandLine(['serve', '--', '--bind', '-'])
    assert.deepEqual(line.args, ['--bind', '-'])
    assert.equal(line.flags.size, 0)
    assert.deepEqual(parseCommandLine(['-']).command, '-')
  })

  test('-h, --help and --version', () => {
    assert.equal(parseCommandLine(['-h']).help, true)
    assert.equal(parseCommandLine(['serve', '--help']).help, true)
    assert.equal(parseCommandLine(['--version']).version, true)
  })
})

describe('helpText', () => {
  const help = helpText()

  test('lists every flag, alias and environment variable, and every default', () => {
    for (const def of SETTINGS) {
      for (const name of [def.flag, ...def.aliases]) {
        assert.match(help, new RegExp(`--${name}\\b`), name)
      }
      for (const variable of def.env) assert.ok(help.includes(variable), variable)
      const defaultText = def.defaultText ?? def.default
      if (defaultText !== undefined) assert.ok(help.includes(`default: ${defaultText}`), def.flag)
    }
  })

  test('the docs/design.md §5 defaults as an operator reads them', () => {
    for (const text of [
      'default: :2470',
      'default: :2471',
      'default: none (admin API off)',
      'default: sqlite://data/relay/relay.sqlite',
      'default: data/relay/persist',
      'default: 72h',
      'default: https://plc.directory',
      'default: auto',
      'default: *.host.bsky.network',
      'default: cores - 1; 1 or 2 on one or two cores',
      'default: info',
      'default: dev',
    ]) {
      assert.ok(help.includes(text), text)
    }
  })

  test('has the commands, the formats, and fits a terminal', () => {
    assert.match(help, /relay serve \[flags\]/)
    assert.match(help, /DURATION {4}72h, 30m/)
    for (const line of help.split('\n')) assert.ok(line.length <= 100, line)
  })

  test('commands can be supplied by the entry point', () => {
    const custom = helpText([{ usage: 'relay frob', summary: 'frobs' }])
    assert.match(custom, /relay frob {2}frobs/)
    assert.doesNotMatch(custom, /relay check/)
  })

  test('never reads the environment: secrets set there do not appear', () => {
    const before = process.env.RELAY_ADMIN_PASSWORD
    process.env.RELAY_ADMIN_PASSWORD = 'hunter2-help-test'
    try {
      assert.ok(!helpText().includes('hunter2-help-test'))
    } finally {
      if (before === undefined) delete process.env.RELAY_ADMIN_PASSWORD
      else process.env.RELAY_ADMIN_PASSWORD = before
    }
  })
})
