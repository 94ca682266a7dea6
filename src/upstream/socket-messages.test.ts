// The flat form of a frame holding a repo envelope, as sent between threads: it must carry the
// very same event, and every other frame goes as it is.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type LineEvent, packFrame, unpackEvent } from './socket-messages.ts'

type FrameEvent = Extract<LineEvent, { e: 'frame' }>

const raw = Uint8Array.of(1, 2, 3)

test('a #commit or #sync envelope goes flat and comes back the same', () => {
  for (const type of ['#commit', '#sync'] as const) {
    for (const received of [true, false]) {
      const ev: FrameEvent = {
        id: 7,
        e: 'frame',
        raw,
        received,
        outcome: {
          kind: 'event',
          msg: { type, seq: 2 ** 53 - 1, did: 'did:plc:abc', rev: '3l2xkrd5xsc2a' },
        },
      }
      const packed = packFrame(ev)
      assert.ok(Array.isArray(packed))
      const back = unpackEvent(packed)
      assert.deepEqual(back, ev)
      assert.equal((back as FrameEvent).raw, raw, 'the same bytes, not a copy')
    }
  }
})

test('other frames and events go as they are', () => {
  const identity: FrameEvent = {
    id: 1,
    e: 'frame',
    raw,
    received: true,
    outcome: {
      kind: 'event',
      msg: { type: '#identity', seq: 3, did: 'did:plc:abc', time: '2024-05-01T12:00:00.000Z' },
    },
  }
  const drop: FrameEvent = {
    id: 1,
    e: 'frame',
    raw,
    received: false,
    outcome: {
      kind: 'drop',
      reason: 'undecodable-frame',
      seq: undefined,
      detail: 'x',
      fatal: true,
    },
  }
  for (const ev of [identity, drop]) {
    assert.equal(packFrame(ev), ev)
    assert.equal(unpackEvent(ev), ev)
  }
  const open: LineEvent = { id: 2, e: 'open' }
  assert.equal(unpackEvent(open), open)
})
