import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  formatListen,
  parseDomainPattern,
  parseHttpUrl,
  parseListen,
  parseTrustedProxy,
} from './addresses.ts'

describe('parseListen', () => {
  test(':PORT, HOST:PORT, [IPv6]:PORT, port 0', () => {
    assert.deepEqual(parseListen(':2470'), { host: '0.0.0.0', port: 2470 })
    assert.deepEqual(parseListen('127.0.0.1:2470'), { host: '127.0.0.1', port: 2470 })
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 })
    assert.deepEqual(parseListen('relay.internal:80'), { host: 'relay.internal', port: 80 })
    assert.deepEqual(parseListen('[::1]:2470'), { host: '::1', port: 2470 })
    assert.deepEqual(parseListen('[::]:65535'), { host: '::', port: 65535 })
    assert.deepEqual(parseListen(' :1 '), { host: '0.0.0.0', port: 1 })
  })

  test('refuses malformed addresses with examples', () => {
    const cases: [string, RegExp][] = [
      ['2470', /has no port \(did you mean :2470\?\)/],
      ['localhost', /has no port \(examples: :2470/],
      [':', /invalid port/],
      [':65536', /invalid port \(0 to 65535\)/],
      [':-1', /invalid port/],
      [':24x', /invalid port/],
      ['::1:2470', /put an IPv6 address in brackets/],
      ['http://localhost:2470', /is a URL, not a listen address/],
      ['[::1]2470', /is not a listen address/],
      ['[127.0.0.1]:1', /is not a listen address/],
      ['[::1:2470', /is not a listen address/],
      ['bad host:1', /invalid host/],
      ['-x:1', /invalid host/],
    ]
    for (const [text, pattern] of cases) assert.throws(() => parseListen(text), pattern, text)
  })

  test('formatListen brackets IPv6', () => {
    assert.equal(formatListen({ host: '0.0.0.0', port: 2470 }), '0.0.0.0:2470')
    assert.equal(formatListen({ host: '::1', port: 2470 }), '[::1]:2470')
    assert.equal(formatListen({ host: 'localhost', port: 0 }), 'localhost:0')
  })
})

describe('parseHttpUrl', () => {
  test('http and https, trailing slash removed, path kept', () => {
    assert.equal(parseHttpUrl('https://plc.directory'), 'https://plc.directory')
    assert.equal(parseHttpUrl('https://plc.directory/'), 'https://plc.directory')
    assert.equal(parseHttpUrl('http://127.0.0.1:2582'), 'http://127.0.0.1:2582')
    assert.equal(parseHttpUrl('https://example.com/plc/'), 'https://example.com/plc')
  })

  test('refuses other schemes, credentials, queries and non-URLs', () => {
    assert.throws(() => parseHttpUrl('plc.directory'), /is not a URL/)
    assert.throws(() => parseHttpUrl('ftp://x.example'), /"ftp:" is not allowed here/)
    assert.throws(() => parseHttpUrl('wss://x.example'), /use http or https/)
    assert.throws(
      () => parseHttpUrl('https://user:hunter2@x.example'),
      (error: unknown) =>
        error instanceof Error &&
        /credentials are not allowed/.test(error.message) &&
        !error.message.includes('hunter2'),
    )
    assert.throws(() => parseHttpUrl('https://x.example/?a=1'), /query or fragment/)
    assert.throws(() => parseHttpUrl('https://x.example/#a'), /query or fragment/)
  })
})

describe('parseTrustedProxy', () => {
  test('addresses and CIDRs of both families', () => {
    assert.deepEqual(parseTrustedProxy('10.0.0.1'), {
      address: '10.0.0.1',
      prefixLength: 32,
      family: 'ipv4',
    })
    assert.deepEqual(parseTrustedProxy('10.0.0.0/8'), {
      address: '10.0.0.0',
      prefixLength: 8,
      family: 'ipv4',
    })
    assert.deepEqual(parseTrustedProxy('::1'), {
      address: '::1',
      prefixLength: 128,
      family: 'ipv6',
    })
    assert.deepEqual(parseTrustedProxy('fd00::/8'), {
      address: 'fd00::',
      prefixLength: 8,
      family: 'ipv6',
    })
    assert.deepEqual(parseTrustedProxy('0.0.0.0/0').prefixLength, 0)
  })

  test('refuses hostnames, bad prefixes and junk', () => {
    for (const text of [
      'proxy.local',
      '10.0.0.256',
      '10.0.0.0/33',
      'fd00::/129',
      '10.0.0.0/',
      '10.0.0.0/8/1',
      '10.0.0.0/x',
      '',
    ]) {
      assert.throws(() => parseTrustedProxy(text), /IP address or CIDR|prefix length/, text)
    }
  })
})

describe('parseDomainPattern', () => {
  test('hostnames and *.suffix patterns, lowercased', () => {
    assert.equal(parseDomainPattern('*.host.bsky.network'), '*.host.bsky.network')
    assert.equal(parseDomainPattern('PDS.Example.COM'), 'pds.example.com')
    assert.equal(parseDomainPattern('pds.example.com.'), 'pds.example.com')
    assert.equal(parseDomainPattern('localhost'), 'localhost')
  })

  test('refuses URLs, ports, IPs and bare or inner wildcards', () => {
    for (const text of [
      'https://pds.example.com',
      'pds.example.com:443',
      '10.0.0.1',
      '*',
      '*example.com',
      'a.*.com',
      '-a.com',
      '',
    ]) {
      assert.throws(() => parseDomainPattern(text), /is not a domain or \*\.domain pattern/, text)
    }
  })
})
