// The flat form of an accepted event's reply, as the worker sends it: it must carry the very
// same outcome, and every other reply goes as it is.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { packReply, type Reply, unpackReply } from './verify-messages.ts'

const raw = Uint8Array.of(0)
const cid = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'

test('an accepted event without mirror input goes flat and comes back the same', () => {
  for (const type of ['#commit', '#sync'] as const) {
    const prefix = Uint8Array.of(1, 2)
    const suffix = Uint8Array.of(3)
    const reply: Reply = {
      id: 9,
      outcome: {
        ok: true,
        type,
        rev: '3l2xkrd5xsc2a',
        commitCid: cid,
        dataCid: cid,
        inverted: type === '#commit',
        warnings: ['missing-prev-data'],
        prefix,
        suffix,
      },
    }
    const packed = packReply(reply)
    assert.ok(Array.isArray(packed))
    assert.deepEqual(unpackReply(packed), reply)
  }
})

test('drops, failures, mirror input and whole repos go as they are', () => {
  const replies: Reply[] = [
    { id: 1, outcome: { ok: false, reason: 'bad-signature', detail: 'x' } },
    { id: 2, error: 'VerifyWorkerError: gone' },
    {
      id: 3,
      outcome: {
        ok: true,
        type: '#commit',
        rev: '3l2xkrd5xsc2a',
        commitCid: cid,
        dataCid: cid,
        inverted: true,
        warnings: [],
        prefix: Uint8Array.of(1),
        suffix: Uint8Array.of(2),
        mirror: {
          head: { rev: '3l2xkrd5xsc2a', commitCid: cid, dataCid: cid, commitBlock: raw },
          blocks: new Map(),
        },
      },
    },
    {
      id: 4,
      outcome: {
        ok: true,
        head: { rev: 'r', commitCid: cid, dataCid: cid, commitBlock: raw },
        tree: new Map(),
        records: 0,
      },
    },
  ]
  for (const r of replies) {
    assert.equal(packReply(r), r)
    assert.equal(unpackReply(r), r)
  }
})
