import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { RELAY_VERSION } from './config.ts'
import { describeConfig, describeSource } from './describe.ts'
import { loadConfig } from './load.ts'

let cwd = ''
before(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'relay-config-'))
})
after(async () => {
  await rm(cwd, { recursive: true, force: true })
})

describe('describeConfig', () => {
  test('redacts admin keys and the database password, everywhere', () => {
    const config = loadConfig(
      ['--admin-key', 'hunter2', '--admin-password=hunter3'],
      { DATABASE_URL: 'postgres://relay:hunter4@db.internal/relay?sslpassword=hunter5' },
      cwd,
    )
    const described = describeConfig(config)
    assert.deepEqual(described.adminPasswords, ['***', '***'])
    assert.deepEqual(described.database, {
      kind: 'postgres',
      url: 'postgres://relay:***@db.internal/relay?sslpassword=***',
      maxConnections: 40,
    })
    const json = JSON.stringify(described)
    for (const secret of ['hunter2', 'hunter3', 'hunter4', 'hunter5']) {
      assert.ok(!json.includes(secret), secret)
    }
  })

  test('describes everything else readably, with sources of non-defaults', () => {
    const config = loadConfig(
      [
        '--api-listen',
        '[::1]:0',
        '--trusted-proxies',
        '10.0.0.0/8',
        '--user-agent-contact',
        'ops@example.com',
      ],
      { RELAY_REPLAY_WINDOW: '1h30m' },
      cwd,
    )
    const described = describeConfig(config)
    assert.equal(described.bind, '[::1]:0')
    assert.equal(described.metricsListen, '0.0.0.0:2471')
    assert.equal(described.replayWindow, '1h30m')
    assert.equal(described.fsyncInterval, '1s')
    assert.equal(described.identityTtl, '1h')
    assert.equal(described.verifyOnMain, '90%')
    assert.deepEqual(described.trustedProxies, ['10.0.0.0/8'])
    assert.equal(described.userAgent, `atproto-relay/${RELAY_VERSION} (+ops@example.com)`)
    assert.deepEqual(described.database, {
      kind: 'sqlite',
      path: join(cwd, 'data/relay/relay.sqlite'),
    })
    assert.deepEqual(described.sources, {
      bind: '--api-listen',
      'trusted-proxies': '--trusted-proxies',
      'user-agent-contact': '--user-agent-contact',
      'replay-window': 'env RELAY_REPLAY_WINDOW',
    })
    assert.deepEqual(JSON.parse(JSON.stringify(described)), described, 'JSON-ready')
  })

  test('has an entry for every config field (renamed ones aside)', () => {
    const config = loadConfig([], {}, cwd)
    const described = describeConfig(config)
    const renamed: Record<string, string> = {
      replayWindowMs: 'replayWindow',
      fsyncIntervalMs: 'fsyncInterval',
      checkpointIntervalMs: 'checkpointInterval',
      identityTtlMs: 'identityTtl',
      verifyOnMainBusy: 'verifyOnMain',
    }
    for (const key of Object.keys(config)) {
      if (key === 'warnings') continue
      assert.ok((renamed[key] ?? key) in described, key)
    }
  })

  test('describeSource', () => {
    assert.equal(describeSource({ kind: 'flag', name: '--bind' }), '--bind')
    assert.equal(describeSource({ kind: 'env', name: 'RELAY_API_BIND' }), 'env RELAY_API_BIND')
    assert.equal(
      describeSource({ kind: 'dotenv', name: 'RELAY_API_BIND', file: '/srv/.env', line: 3 }),
      '.env RELAY_API_BIND (/srv/.env:3)',
    )
    assert.equal(describeSource({ kind: 'default' }), 'default')
  })
})
