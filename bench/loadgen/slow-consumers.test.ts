import assert from 'node:assert/strict'
import { isIPv4 } from 'node:net'
import { test } from 'node:test'
import { loopbackSource } from './slow-consumers.ts'

test('slow consumers come from distinct, bindable loopback addresses', () => {
  assert.equal(loopbackSource(0), '127.0.1.1')
  assert.equal(loopbackSource(253), '127.0.1.254')
  assert.equal(loopbackSource(254), '127.0.2.1')
  const all = Array.from({ length: 2000 }, (_, i) => loopbackSource(i))
  assert.equal(new Set(all).size, all.length)
  for (const a of all) {
    assert.ok(isIPv4(a), a)
    const last = Number(a.split('.')[3])
    assert.ok(last >= 1 && last <= 254, a)
  }
})
