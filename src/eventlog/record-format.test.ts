import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  decodeRecord,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  probeRecord,
  SEGMENT_HEADER_BYTES,
} from './record-format.ts'

const frame = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)
const fields = { seq: 2 ** 40 + 3, timeMs: 1_700_000_000_123, hostId: 0xfffffffe, upstreamSeq: 99 }

describe('record format', () => {
  it('round-trips every field, with the frame as a view of the record bytes', () => {
    const { bytes, frame: view } = encodeRecord(fields, '#identity', 'did:web:example.com', frame)
    assert.ok(Buffer.from(view).equals(Buffer.from(frame)))
    assert.equal(view.buffer, bytes.buffer)
    const padded = Buffer.concat([Buffer.alloc(7), bytes, Buffer.alloc(5)])
    const r = probeRecord(padded, 7, padded.length)
    assert.ok(r.ok)
    assert.equal(r.length, bytes.length)
    assert.equal(r.seq, fields.seq)
    assert.equal(r.timeMs, fields.timeMs)
    const rec = decodeRecord(padded, 7, r.length)
    assert.deepEqual(
      { ...rec, frame: null },
      { ...fields, type: '#identity', did: 'did:web:example.com', frame: null },
    )
    assert.ok(Buffer.from(rec.frame).equals(Buffer.from(frame)))
  })

  it('takes the frame in parts, giving the same bytes as the whole frame', () => {
    const whole = encodeRecord(fields, '#commit', 'did:plc:x', frame)
    const parts = [frame.subarray(0, 120), frame.subarray(120, 121), frame.subarray(121)]
    const split = encodeRecord(fields, '#commit', 'did:plc:x', parts)
    assert.ok(split.bytes.equals(whole.bytes))
    assert.ok(Buffer.from(split.frame).equals(Buffer.from(frame)))
  })

  it('carries a writer’s note beside the type, and none for records without one', () => {
    const { bytes } = encodeRecord(fields, '#account', 'did:plc:x', frame, 'local=takendown')
    const noted = decodeRecord(bytes, 0, bytes.length)
    assert.deepEqual(
      [noted.type, noted.note, noted.did],
      ['#account', 'local=takendown', 'did:plc:x'],
    )
    const plain = encodeRecord(fields, '#account', 'did:plc:x', frame).bytes
    const decoded = decodeRecord(plain, 0, plain.length)
    assert.equal(decoded.note, undefined)
    assert.ok(probeRecord(bytes, 0, bytes.length).ok)
  })

  it('reports an incomplete record with the length it needs', () => {
    const { bytes } = encodeRecord(fields, '#sync', 'did:plc:x', frame)
    for (const cut of [0, 3, 4, 40, bytes.length - 1]) {
      const r = probeRecord(bytes, 0, cut)
      assert.equal(r.ok, false)
      assert.equal(!r.ok && r.problem, 'incomplete')
      assert.equal(!r.ok && r.need, cut < 4 ? 0 : bytes.length)
    }
  })

  it('catches every flipped bit by checksum or length', () => {
    const { bytes } = encodeRecord(fields, '#sync', 'did:plc:x', frame.subarray(0, 20))
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(bytes)
        b[i]! ^= 1 << bit
        const r = probeRecord(b, 0, b.length)
        assert.equal(r.ok, false, `byte ${i} bit ${bit}`)
      }
    }
  })

  it('rejects impossible lengths', () => {
    const b = Buffer.alloc(64)
    for (const len of [0xffffffff, 0]) {
      b.writeUInt32BE(len, 0)
      const r = probeRecord(b, 0, 64)
      assert.equal(r.ok ? 'ok' : r.problem, 'bad-length')
    }
  })

  it('writes and checks segment headers', () => {
    const h = encodeSegmentHeader(123456789)
    assert.equal(h.length, SEGMENT_HEADER_BYTES)
    assert.equal(decodeSegmentHeader(h), 123456789)
    assert.equal(decodeSegmentHeader(h.subarray(0, 10)), null)
    const bad = Buffer.from(h)
    bad[0] = 0
    assert.equal(decodeSegmentHeader(bad), null)
  })
})
