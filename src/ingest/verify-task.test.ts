// The verification task parses the account's signing key itself: the main thread only names it
// (signing-keys.ts), so a key that names no usable point is found here and ends as
// `identity-unavailable` (what ingest drops it as, after one fresh resolution), never as a
// worker failure. A usable key verifies as before.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toBase58Btc } from '@atcute/multibase'
import { generateKeypair, offCurveMultikey } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { runVerifyTask } from './verify-task.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const repo = new TestRepo(DID, generateKeypair('k256'))
const commit = await repo.commit([
  {
    action: 'create',
    path: 'app.bsky.feed.post/3l00000000001',
    record: { $type: 'app.bsky.feed.post', text: 'hello', createdAt: '2026-12-05T00:00:00.000Z' },
  },
])

/** A k256 did:key whose compressed x has no point on the curve. */
const offCurveDidKey = () => `did:key:${offCurveMultikey('k256')}`

const run = (didKey: string) =>
  runVerifyTask(
    { frame: messageFrame(commit), didKey, previous: null, now: Date.now(), mode: 'strict' },
    verifySignature,
  )

describe('runVerifyTask: the signing key', () => {
  it('is parsed before the frame: a broken frame with an unusable key drops for the key', async () => {
    const outcome = await runVerifyTask(
      {
        frame: new Uint8Array([0xff, 0x00]),
        didKey: offCurveDidKey(),
        previous: null,
        now: Date.now(),
        mode: 'strict',
      },
      verifySignature,
    )
    assert.equal(outcome.ok ? 'ok' : outcome.reason, 'identity-unavailable')
  })

  it('verifies with a usable key', async () => {
    const outcome = await run(repo.keypair.didKey)
    assert.equal(outcome.ok, true)
  })

  it('a key off its curve, undecodable or of an unknown codec: identity-unavailable', async () => {
    for (const didKey of [
      offCurveDidKey(),
      'did:key:zNotAKey0',
      `did:key:z${toBase58Btc(Uint8Array.from([0xed, 0x01, ...new Uint8Array(32).fill(7)]))}`,
      'did:web:example.com',
    ]) {
      const outcome = await run(didKey)
      assert.equal(outcome.ok, false, didKey)
      if (outcome.ok) continue
      assert.equal(outcome.reason, 'identity-unavailable', didKey)
      assert.match(outcome.detail, /^unusable signing key: invalid public key/, didKey)
    }
  })
})
