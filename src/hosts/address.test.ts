import assert from 'node:assert/strict'
import type { LookupAddress, LookupOptions } from 'node:dns'
import { describe, it } from 'node:test'
import type { LookupAll } from './address.ts'
import {
  isPublicAddress,
  pinnedLookup,
  publicOnlyLookup,
  resolvePublicAddresses,
} from './address.ts'
import { HostResolutionError, UnsafeAddressError } from './errors.ts'

// Every special-purpose range, by its first, an inner and its last address.
const NOT_PUBLIC_V4 = [
  ['0.0.0.0', '0.1.2.3', '0.255.255.255'], // this network
  ['10.0.0.0', '10.20.30.40', '10.255.255.255'], // RFC 1918
  ['100.64.0.0', '100.100.100.100', '100.127.255.255'], // CGNAT
  ['127.0.0.0', '127.0.0.1', '127.255.255.255'], // loopback
  ['169.254.0.0', '169.254.169.254', '169.254.255.255'], // link-local, cloud metadata
  ['172.16.0.0', '172.20.1.1', '172.31.255.255'], // RFC 1918
  ['192.0.0.0', '192.0.0.8', '192.0.0.255'], // IETF protocol assignments
  ['192.0.2.0', '192.0.2.1', '192.0.2.255'], // TEST-NET-1
  ['192.88.99.0', '192.88.99.1', '192.88.99.255'], // 6to4 relay anycast
  ['192.168.0.0', '192.168.1.1', '192.168.255.255'], // RFC 1918
  ['198.18.0.0', '198.19.1.1', '198.19.255.255'], // benchmarking
  ['198.51.100.0', '198.51.100.7', '198.51.100.255'], // TEST-NET-2
  ['203.0.113.0', '203.0.113.9', '203.0.113.255'], // TEST-NET-3
  ['224.0.0.0', '239.1.2.3', '239.255.255.255'], // multicast
  ['240.0.0.0', '250.1.2.3', '255.255.255.255'], // reserved, broadcast
].flat()

const NOT_PUBLIC_V6 = [
  '::', // unspecified
  '::1', // loopback
  '::1.2.3.4', // IPv4-compatible (deprecated)
  '::ffff:127.0.0.1', // IPv4-mapped loopback
  '::ffff:7f00:1', // the same in hex
  '::ffff:10.0.0.1',
  '::ffff:192.168.1.1',
  '::ffff:169.254.169.254',
  '::ffff:100.64.0.1',
  '0:0:0:0:0:ffff:ac10:0001', // 172.16.0.1, mapped, written out
  '64:ff9b::10.0.0.1', // NAT64 of a private address
  '64:ff9b::7f00:1',
  '64:ff9b:1::1', // local-use NAT64
  '100::1', // discard-only
  '2001::1', // Teredo
  '2001:2::1', // benchmarking
  '2001:10::1', // ORCHID
  '2001:db8::1', // documentation
  '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
  '2002:a00:1::1', // 6to4
  '3fff::1', // documentation (RFC 9637)
  '5f00::1', // SRv6 SIDs
  'fc00::1', // unique local
  'fd12:3456:789a::1',
  'fe80::1', // link-local
  'fe80::1%eth0', // with a zone
  'febf:ffff::1',
  'fec0::1', // site-local (deprecated)
  'ff02::1', // multicast
  'ff0e::1',
]

const PUBLIC = [
  '1.1.1.1',
  '8.8.8.8',
  '9.255.255.255', // just below 10/8
  '11.0.0.0', // just above 10/8
  '100.63.255.255', // just below CGNAT
  '100.128.0.0', // just above CGNAT
  '172.15.255.255',
  '172.32.0.0',
  '192.0.1.1',
  '192.169.0.1',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2a01:4f8::1',
  '2001:200::1', // just past 2001::/23
  '::ffff:8.8.8.8', // mapped public
  '::ffff:808:808',
  '64:ff9b::8.8.8.8', // NAT64 of a public address
]

describe('isPublicAddress', () => {
  it('refuses every special-purpose IPv4 range', () => {
    for (const ip of NOT_PUBLIC_V4) assert.equal(isPublicAddress(ip), false, ip)
  })
  it('refuses every special-purpose IPv6 range, and mapped or NAT64 private IPv4', () => {
    for (const ip of NOT_PUBLIC_V6) assert.equal(isPublicAddress(ip), false, ip)
  })
  it('accepts public addresses, v4, v6, mapped and NAT64', () => {
    for (const ip of PUBLIC) assert.equal(isPublicAddress(ip), true, ip)
  })
  it('refuses things that are not addresses', () => {
    for (const s of ['', 'example.com', '1.2.3', '1.2.3.4.5', '[::1]', '::g', '01.2.3.4']) {
      assert.equal(isPublicAddress(s), false, s)
    }
  })
})

function fakeLookup(table: Record<string, string[]>): LookupAll & { calls: string[] } {
  const calls: string[] = []
  const lookup = async (hostname: string, options: { all: true }) => {
    calls.push(hostname)
    assert.equal(options.all, true)
    const addresses = table[hostname]
    if (addresses === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    }
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return Object.assign(lookup, { calls })
}

const TABLE = {
  'pds.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
  'rebind.example.com': ['93.184.216.34', '10.0.0.1'],
  'mapped.example.com': ['::ffff:127.0.0.1'],
  'empty.example.com': [],
}

describe('resolvePublicAddresses', () => {
  it('returns every address when all are public', async () => {
    assert.deepEqual(await resolvePublicAddresses('pds.example.com', fakeLookup(TABLE)), [
      '93.184.216.34',
      '2606:2800:220:1::1',
    ])
  })

  it('refuses a name with any non-public address', async () => {
    for (const name of ['rebind.example.com', 'mapped.example.com']) {
      await assert.rejects(
        resolvePublicAddresses(name, fakeLookup(TABLE)),
        (err: unknown) =>
          err instanceof UnsafeAddressError &&
          err.hostname === name &&
          !err.message.includes('10.'),
      )
    }
  })

  it('reports names that do not resolve', async () => {
    await assert.rejects(
      resolvePublicAddresses('nx.example.com', fakeLookup(TABLE)),
      (err: unknown) => err instanceof HostResolutionError && err.reason === 'not-found',
    )
    await assert.rejects(
      resolvePublicAddresses('empty.example.com', fakeLookup(TABLE)),
      (err: unknown) => err instanceof HostResolutionError && err.reason === 'not-found',
    )
    const failing: LookupAll = async () => {
      throw Object.assign(new Error('queryA ETIMEOUT'), { code: 'ETIMEOUT' })
    }
    await assert.rejects(
      resolvePublicAddresses('pds.example.com', failing),
      (err: unknown) => err instanceof HostResolutionError && err.reason === 'failed',
    )
  })
})

type LookupAnswer = { err: Error | null; address: string | LookupAddress[]; family?: number }

function callLookup(
  fn: ReturnType<typeof pinnedLookup>,
  hostname: string,
  options: LookupOptions,
): Promise<LookupAnswer> {
  return new Promise((resolve) => {
    fn(hostname, options, (err, address, family) => {
      resolve(family === undefined ? { err, address } : { err, address, family })
    })
  })
}

describe('pinnedLookup', () => {
  const pinned = pinnedLookup(['93.184.216.34', '2606:2800:220:1::1'])

  it('answers with the pinned addresses, never asking DNS', async () => {
    assert.deepEqual(await callLookup(pinned, 'anything.example', {}), {
      err: null,
      address: '93.184.216.34',
      family: 4,
    })
    assert.deepEqual(await callLookup(pinned, 'anything.example', { all: true }), {
      err: null,
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1::1', family: 6 },
      ],
    })
  })

  it('honours the family asked for', async () => {
    assert.deepEqual(await callLookup(pinned, 'x.example', { family: 6 }), {
      err: null,
      address: '2606:2800:220:1::1',
      family: 6,
    })
    const v4only = pinnedLookup(['93.184.216.34'])
    const answer = await callLookup(v4only, 'x.example', { family: 'IPv6' })
    assert.ok(answer.err instanceof HostResolutionError)
  })
})

describe('publicOnlyLookup', () => {
  it('resolves on every call and passes public answers through', async () => {
    const lookup = fakeLookup(TABLE)
    const fn = publicOnlyLookup(lookup)
    const answer = await callLookup(fn, 'pds.example.com', { all: true })
    assert.equal(answer.err, null)
    assert.equal((answer.address as LookupAddress[]).length, 2)
    await callLookup(fn, 'pds.example.com', {})
    assert.deepEqual(lookup.calls, ['pds.example.com', 'pds.example.com'])
  })

  it('fails the connection when the name resolves to a non-public address', async () => {
    const fn = publicOnlyLookup(fakeLookup(TABLE))
    const answer = await callLookup(fn, 'rebind.example.com', {})
    assert.ok(answer.err instanceof UnsafeAddressError)
    const missing = await callLookup(fn, 'nx.example.com', {})
    assert.ok(missing.err instanceof HostResolutionError)
  })
})
