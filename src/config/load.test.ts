// Every setting through every flag spelling, environment variable and .env; defaults.
// Precedence and error cases are in load-precedence.test.ts and load-errors.test.ts.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { RELAY_VERSION, type RelayConfig } from './config.ts'
import { defaultUpstreamThreads, defaultVerifyWorkers, loadConfig } from './load.ts'
import { SETTINGS } from './settings.ts'

let root = ''
let dirCount = 0
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'relay-config-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A fresh working directory, with a .env holding `dotenv` when given. */
async function workDir(dotenv?: string): Promise<string> {
  const dir = join(root, String(dirCount++))
  await mkdir(dir)
  if (dotenv !== undefined) await writeFile(join(dir, '.env'), dotenv)
  return dir
}

interface Sample {
  /** Text given to the setting (for booleans: given as `true`, or as the bare flag). */
  readonly text: string
  /** Other flags the check needs (given as flags, so they do not disturb the source tested). */
  readonly extra?: readonly string[]
  readonly check: (config: RelayConfig, cwd: string) => void
}

const SAMPLES: Readonly<Record<string, Sample>> = {
  bind: {
    text: '127.0.0.1:9',
    check: (c) => assert.deepEqual(c.bind, { host: '127.0.0.1', port: 9 }),
  },
  'metrics-listen': {
    text: '[::1]:0',
    check: (c) => assert.deepEqual(c.metricsListen, { host: '::1', port: 0 }),
  },
  'max-consumers': { text: '7', check: (c) => assert.equal(c.maxConsumers, 7) },
  'max-connections-per-ip': { text: '3', check: (c) => assert.equal(c.maxConnectionsPerIp, 3) },
  'consumer-buffer': {
    text: '1048576',
    check: (c) => assert.equal(c.consumerBufferBytes, 1048576),
  },
  'consumer-buffer-total': {
    text: '134217728',
    check: (c) => assert.equal(c.consumerBufferTotalBytes, 134217728),
  },
  'max-http-connections-per-ip': {
    text: '0',
    check: (c) => assert.equal(c.maxHttpConnectionsPerIp, 0),
  },
  'trusted-proxies': {
    text: '10.0.0.0/8, ::1',
    check: (c) =>
      assert.deepEqual(c.trustedProxies, [
        { address: '10.0.0.0', prefixLength: 8, family: 'ipv4' },
        { address: '::1', prefixLength: 128, family: 'ipv6' },
      ]),
  },
  'admin-password': {
    text: 'k1,k2',
    check: (c) => assert.deepEqual(c.adminPasswords, ['k1', 'k2']),
  },
  'sibling-relays': {
    text: 'https://r1.example.com/,http://localhost:2470',
    check: (c) =>
      assert.deepEqual(c.siblingRelays, ['https://r1.example.com', 'http://localhost:2470']),
  },
  'db-url': {
    text: 'postgres://relay:pw@db/relay',
    check: (c) =>
      assert.deepEqual(c.database, {
        kind: 'postgres',
        url: 'postgres://relay:pw@db/relay',
        maxConnections: 40,
      }),
  },
  archive: { text: 'true', check: (c) => assert.equal(c.archive.enabled, true) },
  'archive-db-url': {
    text: 'sqlite://mirror/r.sqlite',
    check: (c, cwd) =>
      assert.deepEqual(c.archive.database, { kind: 'sqlite', path: join(cwd, 'mirror/r.sqlite') }),
  },
  'repo-fetch-max-bytes': {
    text: '2048',
    check: (c) => assert.equal(c.archive.maxRepoBytes, 2048),
  },
  'max-db-conn': {
    text: '5',
    extra: ['--db-url=postgres://db/relay'],
    check: (c) =>
      assert.deepEqual(c.database, {
        kind: 'postgres',
        url: 'postgres://db/relay',
        maxConnections: 5,
      }),
  },
  'persist-dir': { text: 'p/q', check: (c, cwd) => assert.equal(c.persistDir, join(cwd, 'p/q')) },
  'replay-window': { text: '1h30m', check: (c) => assert.equal(c.replayWindowMs, 5_400_000) },
  'fsync-interval': { text: '250ms', check: (c) => assert.equal(c.fsyncIntervalMs, 250) },
  'checkpoint-interval': {
    text: '10s',
    check: (c) => assert.equal(c.checkpointIntervalMs, 10_000),
  },
  'initial-seq-number': { text: '1000', check: (c) => assert.equal(c.initialSeqNumber, 1000) },
  'allow-insecure-hosts': { text: 'true', check: (c) => assert.equal(c.allowInsecureHosts, true) },
  'disable-request-crawl': {
    text: 'true',
    check: (c) => assert.equal(c.disableRequestCrawl, true),
  },
  'default-account-limit': { text: '7', check: (c) => assert.equal(c.defaultAccountLimit, 7) },
  'new-hosts-per-day-limit': { text: '9', check: (c) => assert.equal(c.newHostsPerDayLimit, 9) },
  'trusted-domains': {
    text: '*.Example.com,pds.test',
    check: (c) => assert.deepEqual(c.trustedDomains, ['*.example.com', 'pds.test']),
  },
  'host-concurrency': { text: '8', check: (c) => assert.equal(c.hostConcurrency, 8) },
  'upstream-threads': { text: '2', check: (c) => assert.equal(c.upstreamThreads, 2) },
  'user-agent-contact': {
    text: 'ops@example.com',
    check: (c) => {
      assert.equal(c.userAgentContact, 'ops@example.com')
      assert.equal(c.userAgent, `atproto-relay/${RELAY_VERSION} (+ops@example.com)`)
    },
  },
  'sync-validation': { text: 'strict', check: (c) => assert.equal(c.syncValidation, 'strict') },
  'lenient-sync-validation': {
    text: 'true',
    check: (c) => assert.equal(c.syncValidation, 'lenient'),
  },
  'sync-ratchet-commits': { text: '5', check: (c) => assert.equal(c.syncRatchetCommits, 5) },
  'verify-workers': { text: '3', check: (c) => assert.equal(c.verifyWorkers, 3) },
  'verify-on-main': { text: '75', check: (c) => assert.equal(c.verifyOnMainBusy, 0.75) },
  'account-shards': { text: '2', check: (c) => assert.equal(c.accountShards, 2) },
  'plc-host': {
    text: 'http://127.0.0.1:2582/',
    check: (c) => assert.equal(c.plcUrl, 'http://127.0.0.1:2582'),
  },
  'account-cache-size': { text: '5000', check: (c) => assert.equal(c.accountCacheSize, 5000) },
  'identity-cache-size': { text: '1000', check: (c) => assert.equal(c.identityCacheSize, 1000) },
  'identity-ttl': { text: '10m', check: (c) => assert.equal(c.identityTtlMs, 600_000) },
  'log-level': { text: 'debug', check: (c) => assert.equal(c.logLevel, 'debug') },
  'log-format': { text: 'pretty', check: (c) => assert.equal(c.logFormat, 'pretty') },
  env: { text: 'prod', check: (c) => assert.equal(c.environment, 'prod') },
  'enable-otel-tracing': { text: 'true', check: (c) => assert.equal(c.tracing.enabled, true) },
  'otel-exporter-otlp-endpoint': {
    text: 'http://collector:4318',
    check: (c) => assert.equal(c.tracing.otlpEndpoint, 'http://collector:4318'),
  },
}

describe('every setting', () => {
  test('has a sample here (the table and this test cannot drift apart)', () => {
    assert.deepEqual(Object.keys(SAMPLES).sort(), SETTINGS.map((def) => def.flag).sort())
  })

  for (const def of SETTINGS) {
    const sample = SAMPLES[def.flag]
    if (sample === undefined) continue
    const extra = sample.extra ?? []

    for (const name of [def.flag, ...def.aliases]) {
      test(`--${name} VALUE / --${name}=VALUE`, async () => {
        const cwd = await workDir()
        const forms =
          def.kind === 'boolean'
            ? [[`--${name}`], [`--${name}=${sample.text}`]]
            : [[`--${name}`, sample.text], [`--${name}=${sample.text}`]]
        for (const form of forms) {
          const config = loadConfig(['serve', ...form, ...extra], {}, cwd)
          sample.check(config, cwd)
          assert.deepEqual(config.sources[def.flag], { kind: 'flag', name: `--${name}` })
        }
      })
    }

    for (const variable of def.env) {
      test(`${variable} in the environment and in .env`, async () => {
        const cwd = await workDir(`${variable}=${sample.text}\n`)
        const fromDotenv = loadConfig(['serve', ...extra], {}, cwd)
        sample.check(fromDotenv, cwd)
        assert.deepEqual(fromDotenv.sources[def.flag], {
          kind: 'dotenv',
          name: variable,
          file: join(cwd, '.env'),
          line: 1,
        })
        const bare = await workDir()
        const fromEnv = loadConfig(['serve', ...extra], { [variable]: sample.text }, bare)
        sample.check(fromEnv, bare)
        assert.deepEqual(fromEnv.sources[def.flag], { kind: 'env', name: variable })
      })
    }
  }
})

describe('defaults', () => {
  test('with nothing set, docs/design.md §5 and the operational defaults', async () => {
    const cwd = await workDir()
    const config = loadConfig([], {}, cwd)
    assert.deepEqual(config.bind, { host: '0.0.0.0', port: 2470 })
    assert.deepEqual(config.metricsListen, { host: '0.0.0.0', port: 2471 })
    assert.deepEqual(config.adminPasswords, [])
    assert.deepEqual(config.database, {
      kind: 'sqlite',
      path: join(cwd, 'data/relay/relay.sqlite'),
    })
    assert.equal(config.persistDir, join(cwd, 'data/relay/persist'))
    assert.equal(config.replayWindowMs, 72 * 3_600_000)
    assert.equal(config.plcUrl, 'https://plc.directory')
    assert.equal(config.allowInsecureHosts, false)
    assert.equal(config.syncValidation, 'auto')
    assert.equal(config.defaultAccountLimit, 100)
    assert.equal(config.newHostsPerDayLimit, 50)
    assert.deepEqual(config.trustedDomains, ['*.host.bsky.network'])
    assert.equal(config.disableRequestCrawl, false)
    assert.equal(config.initialSeqNumber, 1)
    assert.equal(config.verifyWorkers, defaultVerifyWorkers(availableParallelism()))
    assert.equal(config.verifyOnMainBusy, 0.9)
    assert.equal(config.upstreamThreads, defaultUpstreamThreads(availableParallelism()))
    assert.equal(config.logLevel, 'info')
    assert.equal(config.userAgentContact, undefined)
    assert.deepEqual(config.siblingRelays, [])
    assert.equal(config.environment, 'dev')
    assert.equal(config.syncRatchetCommits, 100)
    assert.equal(config.fsyncIntervalMs, 1000)
    assert.equal(config.maxConsumers, 10_000)
    assert.equal(config.maxConnectionsPerIp, 50)
    assert.deepEqual(config.trustedProxies, [])
    assert.equal(config.identityCacheSize, 1_000_000)
    assert.equal(config.accountCacheSize, 1_000_000)
    assert.equal(config.identityTtlMs, 3_600_000)
    assert.equal(config.hostConcurrency, 40)
    assert.deepEqual(config.tracing, { enabled: false, otlpEndpoint: 'http://localhost:4318' })
    assert.equal(config.version, RELAY_VERSION)
    assert.equal(config.userAgent, `atproto-relay/${RELAY_VERSION}`)
    assert.deepEqual(config.warnings, [])
    for (const def of SETTINGS) assert.deepEqual(config.sources[def.flag], { kind: 'default' })
  })

  test('the version is the one in package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
    assert.equal(RELAY_VERSION, pkg.version)
  })

  test('the config is frozen, nested values too', async () => {
    const config = loadConfig(['--admin-key', 'k'], {}, await workDir())
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.bind))
    assert.ok(Object.isFrozen(config.adminPasswords))
    assert.ok(Object.isFrozen(config.sources))
    assert.ok(Object.isFrozen(config.tracing))
  })

  test('no verify workers: the main thread verifies every event, whatever --verify-on-main says', async () => {
    const dir = await workDir()
    for (const args of [
      ['--verify-workers', '0'],
      ['--verify-workers', '0', '--verify-on-main', '0'],
    ]) {
      assert.equal(loadConfig(args, {}, dir).verifyOnMainBusy, 1, args.join(' '))
    }
    // And --verify-on-main is still checked.
    assert.throws(() => loadConfig(['--verify-workers', '0', '--verify-on-main', '101'], {}, dir))
  })

  test('the command and --help are left to the caller', async () => {
    const config = loadConfig(['serve', 'x', '--help'], {}, await workDir())
    assert.equal(config.bind.port, 2470)
  })
})

test('verify workers by default: one per core on one or two cores, else all but one', () => {
  assert.deepEqual([1, 2, 3, 4, 16].map(defaultVerifyWorkers), [1, 2, 2, 3, 15])
  assert.equal(defaultVerifyWorkers(0), 1)
})

test('upstream threads by default: one from four cores up, none below', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 16].map(defaultUpstreamThreads), [0, 0, 0, 0, 1, 1])
})
