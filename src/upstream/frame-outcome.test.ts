import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runVerifyTask } from '../ingest/verify-task.ts'
import { encodeErrorFrame, encodeMessageFrame } from '../protocol/frame.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { readFrame } from './frame-outcome.ts'
import { identityFrame, nonCanonicalIdentityFrame, TEST_DID } from './testing/frames.ts'

const time = '2024-05-01T12:00:00.000Z'
/** Any valid key: the body is refused before a signature is checked. */
const KEY = 'did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme'

describe('readFrame', () => {
  it('reads repo events, #info and error frames', () => {
    const ev = readFrame(identityFrame(3))
    assert.equal(ev.kind, 'event')
    assert.equal(ev.kind === 'event' && ev.msg.seq, 3)
    const info = readFrame(encodeMessageFrame('#info', { name: 'OutdatedCursor' }))
    assert.deepEqual(info, { kind: 'info', msg: { type: '#info', name: 'OutdatedCursor' } })
    assert.deepEqual(readFrame(encodeErrorFrame('FutureCursor', 'Cursor in the future.')), {
      kind: 'error',
      error: 'FutureCursor',
      message: 'Cursor in the future.',
    })
  })

  it('drops a non-canonical frame with its seq, without ending the connection', () => {
    const out = readFrame(nonCanonicalIdentityFrame(8))
    assert.equal(out.kind, 'drop')
    if (out.kind !== 'drop') return
    assert.equal(out.reason, 'non-canonical-cbor')
    assert.equal(out.seq, 8)
    assert.equal(out.fatal, false)
  })

  it('ends the connection on a frame that does not decode', () => {
    for (const bytes of [Uint8Array.of(0xff, 0xff), Uint8Array.of(0x1c), new Uint8Array()]) {
      const out = readFrame(bytes)
      assert.equal(out.kind, 'drop')
      if (out.kind !== 'drop') continue
      assert.equal(out.reason, 'undecodable-frame')
      assert.equal(out.fatal, true)
    }
  })

  it('drops legacy, unknown and invalid messages with their reasons and seqs', () => {
    const cases: [Uint8Array, string, number | undefined][] = [
      [
        encodeMessageFrame('#handle', { seq: 4, did: TEST_DID, handle: 'a.test', time }),
        'legacy-type',
        4,
      ],
      [encodeMessageFrame('#tombstone', { seq: 5, did: TEST_DID, time }), 'legacy-type', 5],
      [encodeMessageFrame('#labels', { seq: 6 }), 'unknown-type', 6],
      [encodeMessageFrame('#identity', { seq: 7, did: 'nope', time }), 'invalid-message', 7],
      [encodeMessageFrame('#identity', { did: TEST_DID, time }), 'invalid-message', undefined],
    ]
    for (const [bytes, reason, seq] of cases) {
      const out = readFrame(bytes)
      assert.deepEqual(out.kind === 'drop' ? [out.reason, out.seq, out.fatal] : out, [
        reason,
        seq,
        false,
      ])
    }
  })

  it('reads only the envelope of a #commit: a body that breaks a rule is dropped by the worker', async () => {
    const rev = '3l7qvtzbgnk2a'
    const bytes = encodeMessageFrame('#commit', { seq: 9, repo: TEST_DID, rev, ops: 'none', time })
    assert.deepEqual(readFrame(bytes), {
      kind: 'event',
      msg: { type: '#commit', seq: 9, did: TEST_DID, rev },
    })
    const outcome = await runVerifyTask(
      { frame: bytes, didKey: KEY, previous: null, now: Date.now(), mode: 'strict' },
      verifySignature,
    )
    // The reason and detail the main thread's full parse gave before it read only the envelope.
    assert.deepEqual(outcome, {
      ok: false,
      reason: 'invalid-message',
      detail: 'commit is not a dag-cbor CID link',
    })
  })
})
