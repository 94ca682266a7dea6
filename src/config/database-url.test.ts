import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.ts'

const CWD = '/srv/relay'

describe('parseDatabaseUrl', () => {
  test('sqlite relative paths resolve against the working directory', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite://data/relay/relay.sqlite', CWD, 40), {
      kind: 'sqlite',
      path: '/srv/relay/data/relay/relay.sqlite',
    })
    assert.deepEqual(parseDatabaseUrl('sqlite://./x.db', CWD, 40), {
      kind: 'sqlite',
      path: '/srv/relay/x.db',
    })
    assert.deepEqual(parseDatabaseUrl('SQLITE://x.db', CWD, 40), {
      kind: 'sqlite',
      path: '/srv/relay/x.db',
    })
  })

  test('sqlite:///absolute/path stays absolute (normalized)', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/relay/relay.sqlite', CWD, 40), {
      kind: 'sqlite',
      path: '/var/lib/relay/relay.sqlite',
    })
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/../relay.db', CWD, 40), {
      kind: 'sqlite',
      path: '/var/relay.db',
    })
  })

  test('postgres:// and postgresql:// are kept as given, with the pool size', () => {
    const url = 'postgres://relay:s3cret@db.internal:5432/relay?sslmode=require'
    assert.deepEqual(parseDatabaseUrl(url, CWD, 12), { kind: 'postgres', url, maxConnections: 12 })
    assert.deepEqual(parseDatabaseUrl('postgresql://db/relay', CWD, 40), {
      kind: 'postgres',
      url: 'postgresql://db/relay',
      maxConnections: 40,
    })
    // A Unix socket through the host parameter, as libpq allows.
    assert.equal(
      parseDatabaseUrl('postgres:///relay?host=/var/run/postgresql', CWD, 40).kind,
      'postgres',
    )
  })

  test('errors name the accepted forms and never show the password', () => {
    const cases: [string, RegExp][] = [
      ['mysql://u:hunter2@h/db', /is not a sqlite:\/\/ or postgres:\/\/ URL \(examples: sqlite:/],
      ['relay.sqlite', /is not a sqlite:\/\/ or postgres:\/\/ URL/],
      ['', /is not a sqlite/],
      ['sqlite:relay.db', /must start with sqlite:\/\//],
      ['sqlite://', /names no file/],
      ['sqlite:///', /names no file/],
      ['sqlite://x.db?mode=ro', /take no parameters/],
      ['postgres:///relay', /names no host/],
      ['postgres://u:hunter2@/relay', /is not a valid URL/],
      ['postgres://u:hunter2@h:99999/relay', /is not a valid URL/],
    ]
    for (const [text, pattern] of cases) {
      assert.throws(
        () => parseDatabaseUrl(text, CWD, 40),
        (error: unknown) =>
          error instanceof Error &&
          pattern.test(error.message) &&
          !error.message.includes('hunter2'),
        text,
      )
    }
  })
})

describe('redactDatabaseUrl', () => {
  test('password in the authority and in query parameters', () => {
    const cases: [string, string][] = [
      ['postgres://relay:s3cret@db/relay', 'postgres://relay:***@db/relay'],
      ['postgresql://relay:s3cret@db:5432/relay', 'postgresql://relay:***@db:5432/relay'],
      ['postgres://relay@db/relay', 'postgres://relay@db/relay'],
      ['postgres://db/relay', 'postgres://db/relay'],
      ['postgres://relay:p%40ss@db/relay', 'postgres://relay:***@db/relay'],
      ['postgres://relay:p@ss@db/relay', 'postgres://relay:***@db/relay'],
      [
        'postgres://db/relay?user=relay&password=s3cret',
        'postgres://db/relay?user=relay&password=***',
      ],
      ['postgres://db/relay?sslpassword=s3cret&x=1', 'postgres://db/relay?sslpassword=***&x=1'],
      ['sqlite://data/relay.sqlite', 'sqlite://data/relay.sqlite'],
      ['not a url', 'not a url'],
    ]
    for (const [url, redacted] of cases) assert.equal(redactDatabaseUrl(url), redacted, url)
  })

  test('a password holding an unencoded / or ? is dropped whole', () => {
    const redacted = redactDatabaseUrl('postgres://relay:pa/ss?wd@db/relay')
    assert.equal(redacted, 'postgres://***@db/relay')
  })
})
