import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseTrustedProxy } from '../config/addresses.ts'
import { clientAddressResolver } from './client-address.ts'

test('X-Forwarded-For is used only from a trusted proxy, skipping trusted hops', () => {
  const none = clientAddressResolver([])
  assert.equal(none('203.0.113.9', '198.51.100.1'), '203.0.113.9')
  const r = clientAddressResolver([parseTrustedProxy('10.0.0.0/8'), parseTrustedProxy('::1')])
  assert.equal(r('203.0.113.9', '198.51.100.1'), '203.0.113.9', 'untrusted peer: header ignored')
  assert.equal(r('10.1.2.3', '198.51.100.1'), '198.51.100.1')
  assert.equal(r('10.1.2.3', '198.51.100.1, 10.9.9.9'), '198.51.100.1', 'trusted hops skipped')
  assert.equal(r('::ffff:10.1.2.3', ['198.51.100.7']), '198.51.100.7', 'IPv4-mapped peer')
  assert.equal(r('::1', 'garbage, 198.51.100.2'), '198.51.100.2')
  assert.equal(r('10.1.2.3', undefined), '10.1.2.3')
  assert.equal(r('10.1.2.3', 'not-an-ip'), '10.1.2.3')
})
