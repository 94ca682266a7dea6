import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ABSENT, DidHostTable, decodeDid, encodeDid, newDidKey } from './plc-did-table.ts'
import { fakeDid } from './testing/mock-plc-export.ts'

test('encodeDid packs did:plc identifiers and refuses anything else', () => {
  const key = newDidKey()
  for (const did of ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'did:plc:777777777777777777777777']) {
    assert.equal(encodeDid(did, key), true)
    assert.equal(decodeDid(key), did)
  }
  const did = fakeDid('x')
  assert.equal(encodeDid(did, key), true)
  assert.equal(decodeDid(key), did)
  for (const bad of [
    'did:plc:aaaaaaaaaaaaaaaaaaaaaaa', // 23 characters
    'did:plc:aaaaaaaaaaaaaaaaaaaaaaaaa', // 25
    'did:plc:Aaaaaaaaaaaaaaaaaaaaaaaa', // upper case
    'did:plc:aaaaaaaaaaaaaaaaaaaaaaa1', // 1 is not base32
    'did:plc:aaaaaaaaaaaaaaaaaaaaaaa8',
    'did:web:aaaaaaaaaaaaaaaaaaaaaaaa',
    '',
  ]) {
    assert.equal(encodeDid(bad, key), false, bad)
  }
})

test('set and get agree with a Map across shard growth', () => {
  const table = new DidHostTable()
  const reference = new Map<string, number>()
  const key = newDidKey()
  const n = 300_000 // enough for every shard to grow several times
  for (let i = 0; i < n; i++) {
    const did = fakeDid(`d${i}`)
    assert.ok(encodeDid(did, key))
    const value = i % 7
    const previous = table.set(key, value)
    assert.equal(previous, reference.get(did) ?? ABSENT)
    reference.set(did, value)
  }
  // Overwrite a third of them.
  for (let i = 0; i < n; i += 3) {
    const did = fakeDid(`d${i}`)
    encodeDid(did, key)
    assert.equal(table.set(key, 0xfffffffe), reference.get(did))
    reference.set(did, 0xfffffffe)
  }
  assert.equal(table.size, reference.size)
  for (const [did, value] of reference) {
    encodeDid(did, key)
    assert.equal(table.get(key), value)
  }
  encodeDid(fakeDid('never inserted'), key)
  assert.equal(table.get(key), ABSENT)
  const histogram = new Map<number, number>()
  table.forEachValue((v) => histogram.set(v, (histogram.get(v) ?? 0) + 1))
  const expected = new Map<number, number>()
  for (const v of reference.values()) expected.set(v, (expected.get(v) ?? 0) + 1)
  assert.deepEqual(histogram, expected)
  // 20 bytes a slot at 40–80% load.
  assert.ok(table.byteLength <= (n / 0.4) * 20 + 256 * 1024 * 20, `${table.byteLength} bytes`)
})

test('keys that differ in one word only are kept apart', () => {
  const table = new DidHostTable()
  const key = newDidKey()
  const dids = [
    'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa',
    'did:plc:baaaaaaaaaaaaaaaaaaaaaaa',
    'did:plc:aaaaaabaaaaaaaaaaaaaaaaa',
    'did:plc:aaaaaaaaaaaabaaaaaaaaaaa',
    'did:plc:aaaaaaaaaaaaaaaaaaaaaaab',
  ]
  dids.forEach((did, i) => {
    encodeDid(did, key)
    assert.equal(table.set(key, i), ABSENT)
  })
  dids.forEach((did, i) => {
    encodeDid(did, key)
    assert.equal(table.get(key), i)
  })
  assert.equal(table.size, dids.length)
})
