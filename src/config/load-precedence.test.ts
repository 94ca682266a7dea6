// Precedence (flags > environment > .env > defaults), alias order, empty variables, relative
// paths, the reference relay's lenient alias, log level variables, warnings.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ConfigError } from './errors.ts'
import { loadConfig } from './load.ts'

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

describe('precedence', () => {
  test('flag > environment > .env > default', async () => {
    const cwd = await workDir('RELAY_REPLAY_WINDOW=3h\n')
    const env = { RELAY_REPLAY_WINDOW: '2h' }
    assert.equal(loadConfig(['--replay-window=1h'], env, cwd).replayWindowMs, 3_600_000)
    assert.equal(loadConfig([], env, cwd).replayWindowMs, 2 * 3_600_000)
    assert.equal(loadConfig([], {}, cwd).replayWindowMs, 3 * 3_600_000)
    assert.equal(loadConfig([], {}, await workDir()).replayWindowMs, 72 * 3_600_000)
  })

  test('any variable in the environment beats any variable in .env', async () => {
    const cwd = await workDir('RELAY_API_BIND=:3\n')
    const config = loadConfig([], { RELAY_API_LISTEN: ':4' }, cwd)
    assert.equal(config.bind.port, 4)
  })

  test('within one source, the variables are consulted in table order', async () => {
    const env = { RELAY_API_LISTEN: ':2', RELAY_API_BIND: ':1' }
    assert.equal(loadConfig([], env, await workDir()).bind.port, 1)
    const cwd = await workDir('LOG_LEVEL=warn\nGO_LOG_LEVEL=error\nRELAY_LOG_LEVEL=debug\n')
    assert.equal(loadConfig([], {}, cwd).logLevel, 'debug')
    assert.equal(
      loadConfig([], { GOLOG_LOG_LEVEL: 'error', LOG_LEVEL: 'warn' }, cwd).logLevel,
      'warn',
    )
  })

  test('an empty or blank variable counts as unset', async () => {
    const cwd = await workDir('RELAY_API_BIND=:3\nRELAY_METRICS_LISTEN=\n')
    const config = loadConfig([], { RELAY_API_BIND: '', RELAY_METRICS_LISTEN: '  ' }, cwd)
    assert.equal(config.bind.port, 3)
    assert.equal(config.metricsListen.port, 2471)
  })

  test('the last of a repeated value flag wins', async () => {
    assert.equal(
      loadConfig(['--bind', ':1', '--api-listen', ':2'], {}, await workDir()).bind.port,
      2,
    )
  })

  test('list flags accumulate and replace the environment list entirely', async () => {
    const cwd = await workDir('RELAY_ADMIN_PASSWORD=fromfile\n')
    const env = { RELAY_ADMIN_KEY: 'e1, e2' }
    assert.deepEqual(loadConfig([], env, cwd).adminPasswords, ['e1', 'e2'])
    assert.deepEqual(
      loadConfig(['--admin-password', 'a', '--admin-key=b,c'], env, cwd).adminPasswords,
      ['a', 'b', 'c'],
    )
    assert.deepEqual(loadConfig([], {}, cwd).adminPasswords, ['fromfile'])
  })

  test('an empty list flag clears a default list', async () => {
    assert.deepEqual(loadConfig(['--trusted-domains='], {}, await workDir()).trustedDomains, [])
  })

  test('booleans: --no-flag overrides a true environment value', async () => {
    const env = { RELAY_ALLOW_INSECURE_HOSTS: 'true' }
    const cwd = await workDir()
    assert.equal(loadConfig([], env, cwd).allowInsecureHosts, true)
    assert.equal(loadConfig(['--no-allow-insecure-hosts'], env, cwd).allowInsecureHosts, false)
    assert.equal(loadConfig(['--allow-insecure-hosts=0'], env, cwd).allowInsecureHosts, false)
    assert.equal(loadConfig([], { RELAY_ALLOW_INSECURE_HOSTS: '1' }, cwd).allowInsecureHosts, true)
  })
})

describe('paths', () => {
  test('relative paths resolve against cwd, absolute ones stay', async () => {
    const cwd = await workDir()
    const relative = loadConfig(
      ['--persist-dir', '../events', '--db-url', 'sqlite://db/r.sqlite'],
      {},
      cwd,
    )
    assert.equal(relative.persistDir, join(cwd, '../events'))
    assert.deepEqual(relative.database, { kind: 'sqlite', path: join(cwd, 'db/r.sqlite') })
    const absolute = loadConfig(
      ['--persist-dir', '/var/relay', '--db-url', 'sqlite:///var/r.sqlite'],
      {},
      cwd,
    )
    assert.equal(absolute.persistDir, '/var/relay')
    assert.deepEqual(absolute.database, { kind: 'sqlite', path: '/var/r.sqlite' })
  })

  test('the .env is the one in cwd', async () => {
    const cwd = await workDir('RELAY_API_BIND=:7\n')
    assert.equal(loadConfig([], {}, cwd).bind.port, 7)
    assert.equal(loadConfig([], {}, await workDir()).bind.port, 2470)
  })
})

describe('sync validation and its reference-relay alias', () => {
  const mode = async (argv: string[], env: Record<string, string>, dotenv?: string) =>
    loadConfig(argv, env, await workDir(dotenv)).syncValidation

  test('RELAY_LENIENT_SYNC_VALIDATION=true means lenient', async () => {
    assert.equal(await mode([], { RELAY_LENIENT_SYNC_VALIDATION: 'true' }), 'lenient')
    assert.equal(await mode([], {}, 'RELAY_LENIENT_SYNC_VALIDATION=true\n'), 'lenient')
    assert.equal(await mode(['--lenient-sync-validation'], {}), 'lenient')
  })

  test('false changes nothing (auto stays auto, never strict)', async () => {
    assert.equal(await mode([], { RELAY_LENIENT_SYNC_VALIDATION: 'false' }), 'auto')
    assert.equal(
      await mode([], { RELAY_LENIENT_SYNC_VALIDATION: 'false', RELAY_SYNC_VALIDATION: 'strict' }),
      'strict',
    )
  })

  test('the stronger source wins, with a warning when the alias loses', async () => {
    assert.equal(
      await mode(['--lenient-sync-validation'], { RELAY_SYNC_VALIDATION: 'strict' }),
      'lenient',
    )
    const cwd = await workDir('RELAY_LENIENT_SYNC_VALIDATION=true\n')
    const config = loadConfig([], { RELAY_SYNC_VALIDATION: 'strict' }, cwd)
    assert.equal(config.syncValidation, 'strict')
    assert.equal(config.warnings.length, 1)
    assert.match(
      config.warnings[0] ?? '',
      /RELAY_LENIENT_SYNC_VALIDATION in .*\.env:1 \(lenient\) is overridden by RELAY_SYNC_VALIDATION \(strict\)/,
    )
  })

  test('the same source saying both strict and lenient is a conflict', async () => {
    const cwd = await workDir()
    assert.throws(
      () =>
        loadConfig(
          [],
          { RELAY_SYNC_VALIDATION: 'strict', RELAY_LENIENT_SYNC_VALIDATION: 'true' },
          cwd,
        ),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === 'conflict' &&
        error.setting === '--sync-validation' &&
        /"strict" contradicts RELAY_LENIENT_SYNC_VALIDATION \(lenient\)/.test(error.message),
    )
    assert.equal(
      loadConfig(['--sync-validation=lenient', '--lenient-sync-validation'], {}, cwd)
        .syncValidation,
      'lenient',
    )
  })
})

describe('account shards', () => {
  test('with archival mode: both taken, from wherever each came', async () => {
    const cwd = await workDir()
    const both = loadConfig(['--archive'], { RELAY_ACCOUNT_SHARDS: '2' }, cwd)
    assert.equal(both.accountShards, 2)
    assert.equal(both.archive.enabled, true)
    assert.equal(loadConfig(['--account-shards=2'], {}, cwd).accountShards, 2)
    assert.equal(loadConfig(['--archive'], {}, cwd).accountShards, 0)
  })
})

describe('log level', () => {
  test('from any of its variables, with Go names', async () => {
    const cwd = await workDir()
    assert.equal(loadConfig([], { GOLOG_LOG_LEVEL: 'WARNING' }, cwd).logLevel, 'warn')
    assert.equal(loadConfig([], { GO_LOG_LEVEL: 'ERROR' }, cwd).logLevel, 'error')
    assert.equal(loadConfig([], { LOG_LEVEL: 'dpanic' }, cwd).logLevel, 'fatal')
    assert.equal(loadConfig([], { GOLOG_LOG_LEVEL: 'error,relay=debug' }, cwd).logLevel, 'error')
  })

  test('only per-subsystem levels: info, with a warning', async () => {
    const config = loadConfig([], { GOLOG_LOG_LEVEL: 'relay=debug' }, await workDir())
    assert.equal(config.logLevel, 'info')
    assert.deepEqual(config.warnings, [
      'GOLOG_LOG_LEVEL sets only per-subsystem levels; using info',
    ])
  })
})

describe('warnings', () => {
  test('unknown RELAY_* variables in the environment and .env (typos), but not goat RELAY_HOST', async () => {
    const cwd = await workDir('RELAY_REPLAY_WINDOWS=1h\nOTHER_TOOL=1\nRELAY_HOST=http://x\n')
    const config = loadConfig([], { RELAY_BIDN: ':1', PATH: '/bin', RELAY_HOST: 'http://x' }, cwd)
    assert.deepEqual(config.warnings, [
      'environment variable RELAY_BIDN is not a relay setting (ignored)',
      `${join(cwd, '.env')}:1: RELAY_REPLAY_WINDOWS is not a relay setting (ignored)`,
    ])
  })

  test('RELAY_LIBSECP256K1: known in the environment, said to be ignored in .env', async () => {
    const cwd = await workDir('RELAY_LIBSECP256K1=bundled\n')
    const config = loadConfig([], { RELAY_LIBSECP256K1: 'auto' }, cwd)
    assert.deepEqual(config.warnings, [
      `${join(cwd, '.env')}:1: RELAY_LIBSECP256K1 is read from the process environment only (ignored here)`,
    ])
  })
})
