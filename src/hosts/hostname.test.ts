import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { InvalidHostnameCode } from './errors.ts'
import { InvalidHostnameError } from './errors.ts'
import { isDomainBanned, isLocalhostName, isTrustedDomain, normalizeHostname } from './hostname.ts'

type Accept = readonly [input: string, hostname: string, ssl: boolean]
type Reject = readonly [input: string, code: InvalidHostnameCode]

// Accepted both with and without allowInsecure, with the same result.
const ACCEPTED_ALWAYS: readonly Accept[] = [
  ['pds.example.com', 'pds.example.com', true],
  ['https://pds.example.com', 'pds.example.com', true],
  ['https://pds.example.com/', 'pds.example.com', true],
  ['wss://pds.example.com', 'pds.example.com', true],
  ['pds.example.com/', 'pds.example.com', true],
  ['PDS.Example.COM', 'pds.example.com', true],
  ['HTTPS://PDS.EXAMPLE.COM/', 'pds.example.com', true],
  ['  pds.example.com  ', 'pds.example.com', true],
  ['pds.example.com.', 'pds.example.com', true],
  ['xn--bcher-kva.de', 'xn--bcher-kva.de', true],
  ['pds.xn--p1ai', 'pds.xn--p1ai', true],
  ['a-b.c-d.social', 'a-b.c-d.social', true],
  ['123.example.com', '123.example.com', true],
  ['morel.us-east.host.bsky.network', 'morel.us-east.host.bsky.network', true],
  [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`, true],
]

// Refused whatever allowInsecure says.
const REJECTED_ALWAYS: readonly Reject[] = [
  ['', 'empty'],
  ['   ', 'empty'],
  ['https://', 'empty'],
  ['https://pds.example.com/xrpc', 'path'],
  ['pds.example.com/xrpc/com.atproto.sync.subscribeRepos', 'path'],
  ['pds.example.com//', 'path'],
  ['pds.example.com\\evil.com', 'path'],
  ['https://pds.example.com?x=1', 'query'],
  ['https://pds.example.com/?x=1', 'query'],
  ['pds.example.com#frag', 'query'],
  ['user@pds.example.com', 'userinfo'],
  ['https://user:pass@pds.example.com', 'userinfo'],
  ['1.2.3.4', 'ip-address'],
  ['https://8.8.8.8/', 'ip-address'],
  ['127.0.0.1', 'ip-address'],
  ['127.1', 'ip-address'],
  ['0x7f.0.0.1', 'ip-address'],
  ['0x7f000001', 'ip-address'],
  ['2130706433', 'ip-address'],
  ['::1', 'ip-address'],
  ['[::1]', 'ip-address'],
  ['https://[2001:db8::1]/', 'ip-address'],
  ['[::1]:2583', 'ip-address'],
  ['::ffff:127.0.0.1', 'ip-address'],
  ['ftp://pds.example.com', 'scheme'],
  ['javascript://pds.example.com', 'scheme'],
  ['1http://pds.example.com', 'scheme'],
  ['pds..example.com', 'invalid-label'],
  ['.pds.example.com', 'invalid-label'],
  ['pds.example.com..', 'invalid-label'],
  ['-pds.example.com', 'invalid-label'],
  ['pds-.example.com', 'invalid-label'],
  ['pds_1.example.com', 'invalid-label'],
  ['pds.example.1com', 'invalid-label'],
  [`${'a'.repeat(64)}.com`, 'invalid-label'],
  [`${'abcdefghi.'.repeat(26)}com`, 'too-long'],
  ['x'.repeat(600), 'too-long'],
  ['bücher.example', 'non-ascii'],
  ['pds.exаmple.com', 'non-ascii'], // Cyrillic а
  ['pds example.com', 'invalid-character'],
  ['pds.example.com\nx', 'invalid-character'],
  ['pds\t.example.com', 'invalid-character'],
  ['pds.example.com:', 'port'],
  ['pds.example.com:0', 'port'],
  ['pds.example.com:65536', 'port'],
  ['pds.example.com:80a', 'port'],
  ['pds.example.com:1:2', 'port'],
]

// Refused without allowInsecure; accepted with it, giving the result shown.
const INSECURE_ONLY: readonly (readonly [input: string, code: InvalidHostnameCode, ok: Accept])[] =
  [
    ['localhost', 'localhost', ['', 'localhost', false]],
    ['localhost:2583', 'port', ['', 'localhost:2583', false]],
    ['LOCALHOST:2583', 'port', ['', 'localhost:2583', false]],
    ['pds.localhost:2583', 'port', ['', 'pds.localhost:2583', false]],
    ['pds.localhost', 'localhost', ['', 'pds.localhost', false]],
    ['http://localhost:2583', 'insecure-scheme', ['', 'localhost:2583', false]],
    ['ws://localhost:2583/', 'insecure-scheme', ['', 'localhost:2583', false]],
    ['https://localhost:2583', 'port', ['', 'localhost:2583', true]],
    ['http://pds.example.com', 'insecure-scheme', ['', 'pds.example.com', false]],
    ['ws://pds.example.com', 'insecure-scheme', ['', 'pds.example.com', false]],
    ['pds.example.com:8080', 'port', ['', 'pds.example.com:8080', true]],
    ['https://pds.example.com:443', 'port', ['', 'pds.example.com', true]],
    ['http://pds.example.com:80/', 'insecure-scheme', ['', 'pds.example.com', false]],
    ['http://pds.example.com:443', 'insecure-scheme', ['', 'pds.example.com:443', false]],
    ['pds.example.com.:08080', 'port', ['', 'pds.example.com:8080', true]],
    ['pds', 'single-label', ['', 'pds', true]],
    ['http://pds:2583', 'insecure-scheme', ['', 'pds:2583', false]],
    ['pds.test', 'special-use', ['', 'pds.test', true]],
    ['pds.local', 'special-use', ['', 'pds.local', true]],
    ['pds.internal', 'special-use', ['', 'pds.internal', true]],
    ['router.home.arpa', 'special-use', ['', 'router.home.arpa', true]],
    ['x.onion', 'special-use', ['', 'x.onion', true]],
  ]

function codeOf(input: string, allowInsecure: boolean): InvalidHostnameCode | undefined {
  try {
    normalizeHostname(input, { allowInsecure })
    return undefined
  } catch (err) {
    assert.ok(err instanceof InvalidHostnameError, `${input}: ${String(err)}`)
    assert.equal(err.input, input)
    return err.code
  }
}

describe('normalizeHostname', () => {
  for (const allowInsecure of [false, true]) {
    it(`accepts plain public names (allowInsecure=${allowInsecure})`, () => {
      for (const [input, hostname, ssl] of ACCEPTED_ALWAYS) {
        assert.deepEqual(normalizeHostname(input, { allowInsecure }), { hostname, ssl }, input)
      }
    })
    it(`refuses malformed names and IPs (allowInsecure=${allowInsecure})`, () => {
      for (const [input, code] of REJECTED_ALWAYS) {
        assert.equal(codeOf(input, allowInsecure), code, JSON.stringify(input))
      }
    })
  }

  it('refuses development hosts without allowInsecure', () => {
    for (const [input, code] of INSECURE_ONLY) {
      assert.equal(codeOf(input, false), code, input)
    }
  })

  it('accepts development hosts with allowInsecure', () => {
    for (const [input, , [, hostname, ssl]] of INSECURE_ONLY) {
      assert.deepEqual(normalizeHostname(input, { allowInsecure: true }), { hostname, ssl }, input)
    }
  })

  it('is idempotent on its own output', () => {
    for (const [input, , [, hostname, ssl]] of INSECURE_ONLY) {
      const once = normalizeHostname(input, { allowInsecure: true })
      const scheme = ssl ? 'https' : 'http'
      assert.deepEqual(normalizeHostname(`${scheme}://${once.hostname}`, { allowInsecure: true }), {
        hostname,
        ssl,
      })
    }
  })

  it('keeps a long hostile input out of the message', () => {
    const input = `https://${'a'.repeat(400)}/x`
    assert.throws(
      () => normalizeHostname(input, { allowInsecure: false }),
      (err: unknown) => err instanceof InvalidHostnameError && err.message.length < 200,
    )
  })
})

describe('isLocalhostName', () => {
  it('knows localhost and *.localhost, with or without a port', () => {
    assert.ok(isLocalhostName('localhost'))
    assert.ok(isLocalhostName('localhost:2583'))
    assert.ok(isLocalhostName('pds.localhost:2583'))
    assert.ok(!isLocalhostName('localhost.example.com'))
    assert.ok(!isLocalhostName('notlocalhost'))
  })
})

describe('isDomainBanned', () => {
  const bans = ['example.com', 'Evil.Network.', '*.wild.org', '.dot.net', '', '  ']

  it('bans the domain and names under it, on label boundaries', () => {
    assert.ok(isDomainBanned('example.com', bans))
    assert.ok(isDomainBanned('a.example.com', bans))
    assert.ok(isDomainBanned('a.b.example.com', bans))
    assert.ok(!isDomainBanned('badexample.com', bans))
    assert.ok(!isDomainBanned('example.com.au', bans))
    assert.ok(!isDomainBanned('example.org', bans))
  })

  it('normalises case, ports, trailing dots and wildcard spellings', () => {
    assert.ok(isDomainBanned('PDS.EVIL.NETWORK', bans))
    assert.ok(isDomainBanned('pds.example.com:2583', bans))
    assert.ok(isDomainBanned('pds.example.com.', bans))
    assert.ok(isDomainBanned('wild.org', bans))
    assert.ok(isDomainBanned('x.wild.org', bans))
    assert.ok(isDomainBanned('x.dot.net', bans))
    assert.ok(!isDomainBanned('mild.org', bans))
  })

  it('ignores empty entries instead of banning everything', () => {
    assert.ok(!isDomainBanned('pds.fine.social', ['', ' ', '.', '*.']))
    assert.ok(!isDomainBanned('pds.fine.social', []))
  })

  it('accepts any iterable', () => {
    assert.ok(isDomainBanned('a.example.com', new Set(['example.com'])))
  })
})

describe('isTrustedDomain', () => {
  const patterns = ['*.host.bsky.network', 'pds.trusted.social', 'localhost:2583']

  it('matches wildcard patterns below the suffix, at any depth', () => {
    assert.ok(isTrustedDomain('morel.us-east.host.bsky.network', patterns))
    assert.ok(isTrustedDomain('a.host.bsky.network', patterns))
    assert.ok(isTrustedDomain('A.HOST.BSKY.NETWORK', patterns))
    assert.ok(!isTrustedDomain('host.bsky.network', patterns))
    assert.ok(!isTrustedDomain('evilhost.bsky.network', patterns))
    assert.ok(!isTrustedDomain('a.host.bsky.network.evil.com', patterns))
  })

  it('matches exact patterns exactly', () => {
    assert.ok(isTrustedDomain('pds.trusted.social', patterns))
    assert.ok(isTrustedDomain('pds.trusted.social:8080', patterns))
    assert.ok(!isTrustedDomain('a.pds.trusted.social', patterns))
    assert.ok(!isTrustedDomain('trusted.social', patterns))
  })

  it('matches a pattern with a port only on that port', () => {
    assert.ok(isTrustedDomain('localhost:2583', patterns))
    assert.ok(!isTrustedDomain('localhost:2584', patterns))
    assert.ok(!isTrustedDomain('localhost', patterns))
  })

  it('never trusts everything', () => {
    assert.ok(!isTrustedDomain('pds.example.com', ['*', '', '*.', '  ']))
  })
})
