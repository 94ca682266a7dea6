// Property: damaged real frames (random byte flips, insertions, truncations of the captured
// scenario frames and of commits made here) never make the pure pipeline throw anything but its
// typed errors: decodeFrame → FrameError, parseMessage → MessageError, and verifyCommit /
// verifySync return a verdict (dropped with a listed reason, or accepted) and never throw.
// Fixed seed (RELAY_TEST_SEED picks another), 100 times more runs with RELAY_TEST_LONG=1.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isDropReason } from '../../src/protocol/drop-reasons.ts'
import { decodeFrame, FrameError } from '../../src/protocol/frame.ts'
import { MessageError, parseMessage } from '../../src/protocol/messages.ts'
import { verifyCommit, verifySync } from '../../src/verify/commit.ts'
import { type PublicKey, parseMultikey } from '../../src/verify/crypto/keys.ts'
import { verifySignature } from '../../src/verify/crypto/signature.ts'
import { generateKeypair } from '../support/keypair.ts'
import { SEED, scaled } from '../support/long-mode.ts'
import { loadScenario, scenarioFrame, scenarioNames } from '../support/scenarios.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

async function pipeline(bytes: Uint8Array, keys: Map<string, PublicKey>): Promise<string> {
  let frame: ReturnType<typeof decodeFrame>
  try {
    frame = decodeFrame(bytes)
  } catch (err) {
    if (err instanceof FrameError) return `frame:${err.code}`
    throw err
  }
  if (frame.op !== 1) return 'error-frame'
  let msg: ReturnType<typeof parseMessage>
  try {
    msg = parseMessage(frame)
  } catch (err) {
    if (err instanceof MessageError) {
      assert.ok(isDropReason(err.reason))
      return err.reason
    }
    throw err
  }
  const base = { previous: null, now: Date.now(), checkSignature: verifySignature }
  const fallbackKey = keys.values().next().value!
  if (msg.type === '#commit') {
    const key = keys.get(msg.repo) ?? fallbackKey
    for (const mode of ['strict', 'lenient'] as const) {
      const v = await verifyCommit(msg, { ...base, key, mode })
      if (!v.ok) assert.ok(isDropReason(v.reason), v.reason)
    }
    return 'verified'
  }
  if (msg.type === '#sync') {
    const v = verifySync(msg, { ...base, key: keys.get(msg.did) ?? fallbackKey })
    if (!v.ok) assert.ok(isDropReason(v.reason), v.reason)
    return 'verified'
  }
  return msg.type
}

test('damaged frames only ever give typed errors or verdicts', async () => {
  const keys = new Map<string, PublicKey>()
  const frames: Uint8Array[] = []
  for (const name of scenarioNames()) {
    const s = loadScenario(name)
    for (const a of s.accounts)
      keys.set(a.identity.did, parseMultikey(a.identity.keys.atproto.publicKeyMultibase))
    for (const m of s.messages) frames.push(scenarioFrame(m))
  }
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  keys.set(repo.did, repo.keypair.publicKey)
  for (let i = 0; i < 3; i++) {
    frames.push(
      messageFrame(
        await repo.commit([{ action: 'create', path: `app.bsky.feed.post/3laaaaaaaaa${i}a` }]),
      ),
    )
  }
  frames.push(messageFrame(repo.sync()))

  const outcomes = new Map<string, number>()
  const damage = fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  )
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: frames.length - 1 }),
      fc.array(damage, { minLength: 1, maxLength: 3 }),
      async (i, damages) => {
        let bytes = Uint8Array.from(frames[i]!)
        for (const d of damages) {
          const at = d.at % bytes.length
          if (d.kind === 'flip') bytes[at]! ^= 1 << d.bit
          else if (d.kind === 'set') bytes[at] = d.value
          else if (d.kind === 'truncate') bytes = bytes.subarray(0, at)
          else bytes = Uint8Array.from([...bytes.subarray(0, at), d.value, ...bytes.subarray(at)])
          if (bytes.length === 0) break
        }
        const outcome = await pipeline(bytes, keys)
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      },
    ),
    { seed: SEED, numRuns: scaled(1500, 150_000) },
  )
  // The damage reached every layer: some frames failed to decode, some messages were invalid,
  // and some reached verification.
  assert.ok(outcomes.has('frame:undecodable'), JSON.stringify([...outcomes]))
  assert.ok(outcomes.has('verified'), JSON.stringify([...outcomes]))
})
