// Fuzzing of the string decoders: CID strings (assertCidString), DIDs (assertDid, didMethod,
// didWebHost) and crawl hostnames (normalizeHostname, isDomainBanned, isTrustedDomain). Proves,
// on arbitrary strings of any UTF-16 code units and on shapes built to trick them (whitespace,
// percent-escapes, full-width dots and letters, IDNs and punycode, IP literals in every numeric
// form, schemes, userinfo, ports, paths, lengths at and past the limits), that each only returns
// or throws its own typed error (InvalidSyntaxError, InvalidHostnameError), and that what they
// accept is what the rules say: atproto DID syntax (`did:<lowercase method>:<id>` of ASCII
// letters, digits and `._:%-`, not ending in `:` or `%`, at most 2048 characters); a did:web host
// is a lowercase DNS name with an optional port; a crawl hostname is a lowercase ASCII DNS name
// that is not an IP literal, normalizes to itself again, and that the WHATWG URL parser (which
// fetch and WebSocket use to dial it) reads as the very same host.
// Fixed seed, short runs in `npm test`, 100 times more with RELAY_TEST_LONG=1.
import assert from 'node:assert/strict'
import { isIP } from 'node:net'
import { test } from 'node:test'
import * as CID from '@atcute/cid'
import fc from 'fast-check'
import { InvalidHostnameError } from '../../src/hosts/errors.ts'
import { isDomainBanned, isTrustedDomain, normalizeHostname } from '../../src/hosts/hostname.ts'
import { sha256 } from '../../src/protocol/cid.ts'
import { assertCidString, isValidCidString } from '../../src/protocol/syntax/cid-string.ts'
import {
  assertDid,
  didMethod,
  didProblem,
  didWebHost,
  isValidDid,
} from '../../src/protocol/syntax/did.ts'
import { InvalidSyntaxError } from '../../src/protocol/syntax/errors.ts'
import { fuzzParams, onlyTyped } from '../support/fuzz-inputs.ts'
import { SEED, scaled } from '../support/long-mode.ts'

/** Any UTF-16 code units, lone surrogates included. */
const anyString = fc.string({ unit: 'binary', maxLength: 80 })

/** Characters chosen to trick a name parser. */
const TRICKS = [
  ' ',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '\u00a0',
  '\u200b',
  '\ufeff',
  '\u3000',
  '%',
  '%3A',
  '%3a',
  '%2E',
  '%00',
  '%25',
  ':',
  '::',
  '.',
  '..',
  '\u3002',
  '\uff0e',
  '\uff61',
  '/',
  '\\',
  '@',
  '?',
  '#',
  '[',
  ']',
  '-',
  '_',
  '~',
  '+',
  '=',
  '*',
  'É',
  'é',
  'ß',
  'İ',
  'ı',
  'ﬀ',
  'ｅｘａｍｐｌｅ',
  'а',
  'ⓔ',
  '🦋',
  'xn--',
  'xn--ls8h',
  'xn--bcher-kva',
  '0x7f',
  '0',
  '127',
  '1',
  '255',
  '256',
  '4294967295',
  '4294967296',
  '017700000001',
  '0177',
  '::1',
  'localhost',
  'LOCALHOST',
  'com',
  'test',
  'local',
  'example',
  'a'.repeat(63),
  'a'.repeat(64),
]
const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TRICKS) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,10}$/) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 3 }) },
)
const tricky = fc.array(piece, { maxLength: 10 }).map((p) => p.join(''))

/** Names that are mostly valid (labels of letters, digits and hyphens, any case), so that the
 * properties about what is accepted get exercised, not only the refusals. */
const dnsName = fc
  .array(
    fc.oneof(
      fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?$/),
      fc.constantFrom('xn--ls8h', 'xn--bcher-kva', 'localhost', 'test', '0x7f', '127', '1e3'),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((labels) => labels.join('.'))

test('CID strings: InvalidSyntaxError only; real CIDs pass', () => {
  fc.assert(
    fc.property(
      fc.oneof(anyString, tricky, fc.constantFrom('Qmabcdefgh', 'b'.repeat(257), 'bafy')),
      (s) => {
        const r = onlyTyped(() => assertCidString(s), InvalidSyntaxError, 'assertCidString')
        assert.equal(r.ok, isValidCidString(s))
      },
    ),
    fuzzParams(SEED, scaled(3_000, 300_000)),
  )
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constantFrom(0x71 as const, 0x55 as const),
      (digest, codec) => {
        assertCidString(CID.toString(CID.fromDigest(codec, sha256(digest))))
      },
    ),
    fuzzParams(SEED, scaled(200, 20_000)),
  )
})

const DID_RE = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/
const didLike = fc.oneof(
  anyString,
  fc
    .tuple(
      fc.constantFrom('did:', 'DID:', 'did', 'did::', ' did:'),
      fc.constantFrom('plc', 'web', 'PLC', 'key', 'we b', ''),
      fc.constantFrom(':', '%3A', ''),
      tricky,
    )
    .map((p) => p.join('')),
  fc.tuple(fc.constantFrom('did:web:', 'did:plc:'), tricky).map((p) => p.join('')),
  fc.integer({ min: 2030, max: 2060 }).map((n) => `did:web:${'a'.repeat(n - 8)}`),
  fc
    .tuple(
      dnsName,
      fc.constantFrom('', '', '%3A443', '%3a8080', '%3A0', '%3A65536', '%3A', '%2F', ':x'),
    )
    .map(([name, port]) => `did:web:${name}${port}`),
)

test('DIDs: InvalidSyntaxError only, and acceptance is exactly atproto DID syntax', () => {
  fc.assert(
    fc.property(didLike, (s) => {
      const valid = s.length <= 2048 && DID_RE.test(s)
      const r = onlyTyped(() => assertDid(s), InvalidSyntaxError, 'assertDid')
      assert.equal(r.ok, valid, s)
      assert.equal(isValidDid(s), valid)
      // the hand-written explanation agrees with the fast check
      assert.equal(didProblem(s) === undefined, valid, s)
      const m = onlyTyped(() => didMethod(s), InvalidSyntaxError, 'didMethod')
      if (m.ok) assert.match(m.value, /^[a-z]+$/)
      const h = onlyTyped(() => didWebHost(s), InvalidSyntaxError, 'didWebHost')
      if (!h.ok) return
      // a did:web host: a lowercase DNS name, and a port only when escaped as %3A
      const [name, port, ...more] = h.value.split(':')
      assert.equal(more.length, 0)
      assert.match(name!, /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/)
      assert.ok(name!.length <= 253)
      if (port !== undefined) {
        assert.match(port, /^[1-9][0-9]{0,4}$/)
        assert.ok(Number(port) <= 65535)
        assert.match(s, /%3A/i)
      }
      // the URL parser reads a name whose last label starts with a letter as the same host
      // (`127.1` or `a.0x7f` are IPv4 literals to it; didWebHost leaves refusing those to its
      // callers, as whether to dial an address is policy, not syntax)
      if (/^[a-z]/.test(name!.split('.').at(-1)!))
        assert.equal(new URL(`https://${h.value}/`).hostname, name)
    }),
    fuzzParams(SEED, scaled(5_000, 500_000)),
  )
})

const hostLike = fc.oneof(
  anyString,
  fc
    .tuple(
      fc.constantFrom('', 'https://', 'WSS://', 'http://'),
      dnsName,
      fc.constantFrom('', '', '.', '/', ':2583', ':443'),
    )
    .map((p) => p.join('')),
  tricky,
  fc
    .tuple(
      fc.constantFrom(
        '',
        '',
        'https://',
        'wss://',
        'http://',
        'ws://',
        'HTTPS://',
        'ftp://',
        'https:/',
        '//',
        'https://user@',
        'https://a:b@',
      ),
      fc
        .array(
          fc.oneof(
            piece,
            fc.constantFrom(
              'pds',
              'example',
              'com',
              'bsky',
              'social',
              'localhost',
              '0x7f',
              '127',
              '0',
            ),
          ),
          { minLength: 1, maxLength: 5 },
        )
        .map((labels) => labels.join('.')),
      fc.constantFrom(
        '',
        '',
        '.',
        ':443',
        ':80',
        ':2583',
        ':0',
        ':65536',
        ':08080',
        ':',
        '/',
        '//',
        '/x',
        '?q',
        '#f',
        ' ',
      ),
    )
    .map((p) => p.join('')),
  fc.constantFrom(
    '[::1]',
    '[::ffff:127.0.0.1]:443',
    '::1',
    '127.1',
    '0x7f.1',
    '2130706433',
    '0177.0.0.1',
    '1.2.3.4.',
    'a.1',
    'a.0x1',
    'a.b.08',
  ),
)

test('hostnames: InvalidHostnameError only; what passes is a canonical, non-IP name the URL parser agrees on', () => {
  fc.assert(
    fc.property(hostLike, fc.boolean(), (input, allowInsecure) => {
      const r = onlyTyped(
        () => normalizeHostname(input, { allowInsecure }),
        InvalidHostnameError,
        'normalizeHostname',
      )
      // matching on untrusted names never throws either
      isDomainBanned(input, [input, '', '*.', 'com'])
      isTrustedDomain(input, [input, '*', '*.com', ''])
      if (!r.ok) return
      const { hostname, ssl } = r.value
      const colon = hostname.indexOf(':')
      const name = colon === -1 ? hostname : hostname.slice(0, colon)
      assert.match(hostname, /^[a-z0-9.:-]+$/)
      assert.equal(isIP(name), 0, hostname)
      if (!allowInsecure) assert.ok(colon === -1 && ssl && name.includes('.'), hostname)
      // normalizing again, with the scheme it was given, gives the same name and scheme (without
      // one a name keeps the port only when it is not the default of https)
      const scheme = ssl ? 'https' : 'http'
      assert.deepEqual(normalizeHostname(`${scheme}://${hostname}`, { allowInsecure }), r.value)
      // the URL parser (fetch, WebSocket) dials exactly this host, not an IP it reads in it
      const url = new URL(`${scheme}://${hostname}/`)
      assert.equal(url.host, hostname)
      assert.equal(isIP(url.hostname), 0, hostname)
    }),
    fuzzParams(SEED, scaled(5_000, 500_000)),
  )
  // over-long inputs are refused by length, after trimming, without scanning forever
  for (const n of [254, 513, 100_000]) {
    const r = onlyTyped(
      () => normalizeHostname(`${'a.'.repeat(n)}com`, { allowInsecure: false }),
      InvalidHostnameError,
      'long',
    )
    assert.ok(!r.ok && (r.error as InvalidHostnameError).code === 'too-long')
  }
})
