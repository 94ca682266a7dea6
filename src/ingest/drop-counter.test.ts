import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DropCounter } from './drop-counter.ts'

test('counts per host and reason, with hour and day windows that expire', () => {
  let now = Date.UTC(2026, 0, 1, 12, 0, 0)
  const seen: string[] = []
  const c = new DropCounter({ now: () => now, onDrop: (d) => seen.push(d.reason) })
  c.record({ hostId: 1, reason: 'bad-signature', did: 'did:plc:a', seq: 1, detail: 'x' })
  c.record({ hostId: 1, reason: 'bad-signature', did: 'did:plc:b', seq: 2, detail: 'y' })
  c.record({ hostId: 2, reason: 'wrong-host', did: null, seq: undefined, detail: 'z' })
  assert.deepEqual(seen, ['bad-signature', 'bad-signature', 'wrong-host'])
  assert.equal(c.total(), 3)
  let r = c.recent(1)
  assert.equal(r.length, 1)
  assert.deepEqual(
    [r[0]!.count1h, r[0]!.count24h, r[0]!.total, r[0]!.lastDid],
    [2, 2, 2, 'did:plc:b'],
  )
  now += 61 * 60_000 // past the hour
  c.record({ hostId: 1, reason: 'stale-rev', did: null, seq: 3, detail: '' })
  r = c.recent(1)
  const sig = r.find((x) => x.reason === 'bad-signature')!
  assert.deepEqual([sig.count1h, sig.count24h], [0, 2])
  assert.equal(r[0]!.reason, 'stale-rev', 'newest first')
  now += 25 * 3_600_000 // past the day
  assert.deepEqual(
    c.recent(1).map((x) => [x.reason, x.count1h, x.count24h, x.total]),
    [
      ['stale-rev', 0, 0, 1],
      ['bad-signature', 0, 0, 2],
    ],
  )
  assert.equal(c.forHost(2).get('wrong-host')?.count, 1)
})
