// Every bad input is a ConfigError naming the setting and where the text came from, saying what
// would be accepted, and never quoting a secret.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ConfigError, type ConfigErrorCode } from './errors.ts'
import { loadConfig } from './load.ts'
import { SETTINGS } from './settings.ts'

let root = ''
let dirCount = 0
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'relay-config-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function workDir(dotenv?: string): Promise<string> {
  const dir = join(root, String(dirCount++))
  await mkdir(dir)
  if (dotenv !== undefined) await writeFile(join(dir, '.env'), dotenv)
  return dir
}

function configError(code: ConfigErrorCode, setting: string, origin: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ConfigError, String(error))
    assert.equal(error.code, code)
    assert.equal(error.setting, setting)
    assert.equal(error.origin, origin)
    assert.match(error.message, pattern)
    return true
  }
}

/** One bad value per setting (admin keys have none: any non-empty text is a key). */
const BAD: Readonly<Record<string, readonly [string, RegExp]>> = {
  bind: ['x', /"x" has no port/],
  'metrics-listen': [':99999', /invalid port/],
  'max-consumers': ['0', /out of range \(1 to/],
  'max-connections-per-ip': ['many', /is not a whole number/],
  'consumer-buffer': ['1000', /out of range|at least/],
  'consumer-buffer-total': ['64MiB', /is not a whole number/],
  'max-http-connections-per-ip': ['-1', /is out of range/],
  'trusted-proxies': ['10.0.0.1,proxy.local', /"proxy.local" is not an IP address or CIDR/],
  'sibling-relays': ['relay.example.com', /is not a URL/],
  'db-url': ['mysql://db/relay', /is not a sqlite:\/\/ or postgres:\/\/ URL/],
  'max-db-conn': ['0', /out of range/],
  'persist-dir': [' ', /is empty/],
  archive: ['maybe', /is not a boolean/],
  'archive-db-url': ['mysql://db/relay', /is not a sqlite:\/\/ or postgres:\/\/ URL/],
  'repo-fetch-max-bytes': ['12', /out of range/],
  'replay-window': ['0s', /out of range \(1s to/],
  'fsync-interval': ['2h', /out of range \(0s to 1h\)/],
  'checkpoint-interval': ['10ms', /out of range \(100ms to 1h\)/],
  'initial-seq-number': ['0', /out of range/],
  'allow-insecure-hosts': ['yes', /"yes" is not a boolean \(use true or false\)/],
  'disable-request-crawl': ['maybe', /is not a boolean/],
  'default-account-limit': ['-1', /out of range \(0 to/],
  'new-hosts-per-day-limit': ['1.5', /is not a whole number/],
  'trusted-domains': ['https://pds.example.com', /is not a domain or \*\.domain pattern/],
  'host-concurrency': ['0', /out of range/],
  'upstream-threads': ['-1', /out of range/],
  'user-agent-contact': ['me (ops)', /cannot go in a User-Agent/],
  'sync-validation': ['strik', /"strik" is not one of auto, strict, lenient/],
  'lenient-sync-validation': ['yes', /is not a boolean/],
  'sync-ratchet-commits': ['0', /out of range/],
  'verify-workers': ['-1', /out of range \(0 to 1024\)/],
  'verify-on-main': ['101', /out of range \(0 to 100\)/],
  'account-shards': ['-1', /out of range \(0 to 256\)/],
  'plc-host': ['plc.directory', /is not a URL \(examples: https:\/\/plc.directory/],
  'identity-cache-size': ['0', /out of range/],
  'account-cache-size': ['-1', /out of range/],
  'identity-ttl': ['5', /"5" has no unit \(examples: 72h/],
  'log-level': ['loud', /is not a log level/],
  'log-format': ['xml', /is not a log format/],
  env: ['my env', /is not an environment name/],
  'enable-otel-tracing': ['on', /is not a boolean/],
  'otel-exporter-otlp-endpoint': ['grpc://collector', /"grpc:" is not allowed here/],
}

describe('invalid values', () => {
  test('every setting that can be wrong has a case here', () => {
    const settable = SETTINGS.map((def) => def.flag).filter((flag) => flag !== 'admin-password')
    assert.deepEqual(Object.keys(BAD).sort(), settable.sort())
  })

  for (const def of SETTINGS) {
    const bad = BAD[def.flag]
    if (bad === undefined) continue
    const [text, pattern] = bad
    const setting = `--${def.flag}`
    const variable = def.env.at(-1) ?? ''

    test(`${setting} names the setting and its source`, async () => {
      const cwd = await workDir(`# comment\n${def.env[0]}=${JSON.stringify(text)}\n`)
      const empty = await workDir()
      assert.throws(
        () => loadConfig([`${setting}=${text}`], {}, empty),
        configError('invalid-value', setting, setting, pattern),
      )
      // A blank variable counts as unset, so a blank bad value can only come from a flag.
      if (text.trim() !== '') {
        assert.throws(
          () => loadConfig([], { [variable]: text }, empty),
          configError('invalid-value', setting, variable, pattern),
        )
        assert.throws(
          () => loadConfig([], {}, cwd),
          configError('invalid-value', setting, `${def.env[0]} in ${join(cwd, '.env')}:2`, pattern),
        )
      }
    })
  }

  test('the message an operator reads', async () => {
    const cwd = await workDir()
    assert.throws(() => loadConfig(['--replay-window', '72x'], {}, cwd), {
      message: '--replay-window: "72x" is not a duration (examples: 72h, 30m, 10s, 500ms, 1h30m)',
    })
    assert.throws(() => loadConfig([], { RELAY_EVENT_PLAYBACK_TTL: '72x' }, cwd), {
      message:
        '--replay-window (from RELAY_EVENT_PLAYBACK_TTL): "72x" is not a duration (examples: 72h, 30m, 10s, 500ms, 1h30m)',
    })
  })
})

describe('secrets never appear in errors', () => {
  test('a bad database URL is quoted with its password redacted', async () => {
    for (const url of [
      'mysql://relay:hunter2@db/relay',
      'postgres://relay:hunter2@db:99999/relay',
    ]) {
      assert.throws(
        () => loadConfig([], { DATABASE_URL: url }, root),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.setting === '--db-url' &&
          error.message.includes('relay:***@') &&
          !error.message.includes('hunter2') &&
          !String((error.cause as Error).message).includes('hunter2'),
      )
    }
  })

  test('admin keys are not echoed when something else fails', async () => {
    assert.throws(
      () =>
        loadConfig(['--admin-key', 'hunter2', '--bind', 'x'], { RELAY_ADMIN_KEY: 'hunter3' }, root),
      (error: unknown) =>
        error instanceof ConfigError &&
        !/hunter[23]/.test(error.message) &&
        error.setting === '--bind',
    )
  })
})

describe('command line and .env problems', () => {
  test('unknown flags and missing values', async () => {
    const cwd = await workDir()
    assert.throws(
      () => loadConfig(['serve', '--bnid', ':1'], {}, cwd),
      configError('unknown-flag', '--bnid', '--bnid', /did you mean --bind\?/),
    )
    assert.throws(
      () => loadConfig(['serve', '--db-url'], {}, cwd),
      configError('missing-value', '--db-url', '--db-url', /needs a value/),
    )
  })

  test('a malformed .env line names the file and line', async () => {
    const cwd = await workDir('RELAY_API_BIND=:1\nthis is not an assignment\n')
    assert.throws(
      () => loadConfig([], {}, cwd),
      configError('dotenv-syntax', '.env', `${join(cwd, '.env')}:2`, /expected KEY=value/),
    )
  })

  test('a .env that cannot be read is an error, an absent one is not', async () => {
    const cwd = await workDir()
    await mkdir(join(cwd, '.env'))
    assert.throws(
      () => loadConfig([], {}, cwd),
      configError('dotenv-unreadable', '.env', join(cwd, '.env'), /cannot be read \(EISDIR\)/),
    )
    const withoutDotenv = await workDir()
    assert.doesNotThrow(() => loadConfig([], {}, withoutDotenv))
  })
})
