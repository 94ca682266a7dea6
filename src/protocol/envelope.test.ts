import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CidLinkWrapper, encode } from '@atcute/cbor'
import fc from 'fast-check'
import { applyDamage, damages, fuzzParams } from '../../test/support/fuzz-inputs.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { SEED, scaled } from '../../test/support/long-mode.ts'
import { messageBody, messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { runVerifyTask } from '../ingest/verify-task.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { type RepoEnvelope, readRepoEnvelope } from './envelope.ts'
import { concat, decodeFrame, encodeErrorFrame, encodeMessageFrame, FrameError } from './frame.ts'
import { MessageError, parseMessage } from './messages.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const TIME = '2026-12-03T10:00:00.000Z'

const repo = new TestRepo(DID, generateKeypair('k256'))
const post = (i: number) => ({
  action: 'create' as const,
  path: `app.bsky.feed.post/3l${String(i).padStart(11, '0')}`,
  record: { $type: 'app.bsky.feed.post', text: `post ${i}`, createdAt: TIME },
})
const commits = await Promise.all(
  [0, 1, 2].map(async (i) => repo.commit([post(i)], { seq: 7 + i })),
)
const commit = commits[0]!
const sync = repo.sync({ seq: 12 })

/** A #commit frame of `body` whose one 2^53 - 1 becomes 2^53 (the encoder refuses to write it). */
function pastSafeIntegers(body: Record<string, unknown>): Uint8Array {
  const bytes = encodeMessageFrame('#commit', body)
  const largest = [0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
  const at = bytes.findIndex((_, i) => largest.every((v, j) => bytes[i + j] === v))
  bytes.set([0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0], at)
  return bytes
}

/** What the full parse says of a frame: the envelope fields, or how it fails. */
function fullParse(
  bytes: Uint8Array,
): RepoEnvelope | 'other' | { dropped: number | undefined } | 'undecodable' {
  try {
    const frame = decodeFrame(bytes)
    if (frame.op !== 1) return 'other'
    const msg = parseMessage(frame)
    if (msg.type === '#commit') return { type: msg.type, seq: msg.seq, did: msg.repo, rev: msg.rev }
    if (msg.type === '#sync') return { type: msg.type, seq: msg.seq, did: msg.did, rev: msg.rev }
    return 'other'
  } catch (err) {
    if (err instanceof MessageError) return { dropped: err.seq }
    if (err instanceof FrameError) return err.code === 'droppable' ? { dropped: err.seq } : err.code
    throw err
  }
}

describe('readRepoEnvelope', () => {
  it('reads type, seq, DID and rev of #commit and #sync frames as the full parse does', () => {
    for (const m of [...commits, sync]) {
      const bytes = messageFrame(m)
      const envelope = readRepoEnvelope(bytes)
      assert.deepEqual(envelope, fullParse(bytes))
      assert.deepEqual(envelope, {
        type: m.type,
        seq: m.seq,
        did: m.type === '#commit' ? m.repo : m.did,
        rev: m.rev,
      })
    }
  })

  it('reads seqs of every argument width, up to the largest safe integer', () => {
    for (const seq of [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      const bytes = encodeMessageFrame('#commit', { ...messageBody(commit), seq })
      assert.equal(readRepoEnvelope(bytes)?.seq, seq, `seq ${seq}`)
    }
  })

  it('leaves every other frame to the full parse', () => {
    const body = messageBody(commit)
    const cases: [string, Uint8Array][] = [
      ['an #identity', encodeMessageFrame('#identity', { seq: 1, did: DID, time: TIME })],
      [
        'an #account',
        encodeMessageFrame('#account', { seq: 1, did: DID, active: true, time: TIME }),
      ],
      ['an #info', encodeMessageFrame('#info', { name: 'OutdatedCursor' })],
      ['an error frame', encodeErrorFrame('FutureCursor', 'later')],
      ['a legacy type', encodeMessageFrame('#handle', { ...body })],
      ['no seq', encodeMessageFrame('#commit', { ...body, seq: undefined })],
      ['a negative seq', encodeMessageFrame('#commit', { ...body, seq: -1 })],
      ['a seq past 2^53', pastSafeIntegers({ ...body, seq: 2 ** 53 - 1 })],
      ['a seq as text', encodeMessageFrame('#commit', { ...body, seq: '7' })],
      ['no repo', encodeMessageFrame('#commit', { ...body, repo: undefined })],
      ['a repo that is not a DID', encodeMessageFrame('#commit', { ...body, repo: 'alice' })],
      [
        'a repo behind a byte order mark',
        encodeMessageFrame('#commit', { ...body, repo: `\uFEFF${DID}` }),
      ],
      [
        'a rev behind a byte order mark',
        encodeMessageFrame('#commit', { ...body, rev: `\uFEFF${body.rev}` }),
      ],
      ['a repo that is not text', encodeMessageFrame('#commit', { ...body, repo: 42 })],
      ['a rev that is not a TID', encodeMessageFrame('#commit', { ...body, rev: 'yesterday' })],
      ['a #sync keyed `repo`', encodeMessageFrame('#sync', { ...body, did: undefined })],
      ['a body that is not a map', concat(encode({ op: 1, t: '#commit' }), encode([1, 2]))],
      ['a header with op 2', concat(encode({ op: 2, t: '#commit' }), encode(body))],
      ['a header with more keys', concat(encode({ op: 1, t: '#commit', x: 1 }), encode(body))],
      ['trailing bytes', concat(messageFrame(commit), Uint8Array.of(0))],
      ['nothing', new Uint8Array()],
    ]
    for (const [what, bytes] of cases) assert.equal(readRepoEnvelope(bytes), null, what)
  })

  it('reads the envelope of strict DAG-CBOR the decoder cannot hold; the worker drops it as the full parse did', async () => {
    const body = messageBody(commit)
    const dagPb = new CidLinkWrapper(
      Uint8Array.from([0x01, 0x70, 0x12, 0x20, ...new Uint8Array(32)]),
    )
    const cases: [string, Uint8Array][] = [
      [
        'an integer past 2^53 in another field',
        pastSafeIntegers({ ...body, seq: 3, x: 2 ** 53 - 1 }),
      ],
      ['a CID of another codec', encodeMessageFrame('#commit', { ...body, commit: dagPb })],
    ]
    for (const [what, bytes] of cases) {
      const envelope = readRepoEnvelope(bytes)
      assert.equal(envelope?.seq, what.startsWith('an integer') ? 3 : commit.seq, what)
      let full: FrameError | undefined
      try {
        decodeFrame(bytes)
      } catch (err) {
        if (err instanceof FrameError) full = err
      }
      assert.equal(full?.code, 'droppable', what)
      assert.equal(full?.seq, envelope?.seq, what)
      const outcome = await runVerifyTask(
        {
          frame: bytes,
          didKey: repo.keypair.didKey,
          previous: null,
          now: Date.now(),
          mode: 'strict',
        },
        verifySignature,
      )
      assert.deepEqual(outcome, { ok: false, reason: full?.reason, detail: full?.message }, what)
    }
  })

  it('reads the repo of a #commit that also carries a did, and refuses a header type that is not text', () => {
    const bytes = encodeMessageFrame('#commit', { ...messageBody(commit), did: 'did:plc:other' })
    assert.equal(readRepoEnvelope(bytes)?.did, DID)
    assert.equal(
      readRepoEnvelope(concat(encode({ op: 1, t: 7 }), encode(messageBody(commit)))),
      null,
    )
  })

  it('leaves a non-canonical frame to the full parse, which drops it', () => {
    // The body's keys in another order: still a map with every field, but not DAG-CBOR.
    const body = messageBody(commit)
    const keys = Object.keys(body).sort().reverse()
    const parts: Uint8Array[] = [Uint8Array.of(0xa0 + keys.length)]
    for (const k of keys) parts.push(encode(k), encode(body[k]))
    const bytes = concat(encode({ op: 1, t: '#commit' }), parts.reduce(concat))
    assert.equal(readRepoEnvelope(bytes), null)
    assert.deepEqual(fullParse(bytes), { dropped: commit.seq })
  })

  // The rule that lets the main thread stop parsing commit bodies: on any bytes, an envelope is
  // read whenever the full parse accepts the message, with the same fields; when the full parse
  // would drop it (the worker now does), with the seq that drop carries (the cursor moves past
  // it either way); and never from a frame the full parse finds undecodable, which must end the
  // connection on the main thread.
  it('agrees with the full parse on damaged frames', () => {
    const frames = [...commits, sync].map(messageFrame)
    fc.assert(
      fc.property(fc.constantFrom(...frames), damages(3), (frame, list) => {
        const bytes = applyDamage(frame, list)
        const envelope = readRepoEnvelope(bytes)
        const full = fullParse(bytes)
        if (envelope === null) {
          assert.ok(typeof full === 'string' || 'dropped' in full, 'an envelope was missed')
        } else if (typeof full === 'string') {
          assert.fail(`an envelope was read from a frame the full parse calls ${full}`)
        } else if ('dropped' in full) {
          assert.equal(envelope.seq, full.dropped, 'the drop would carry another seq')
        } else {
          assert.deepEqual(envelope, full)
        }
      }),
      fuzzParams(SEED, scaled(400, 40_000)),
    )
  })
})
