// More tampering, from a review of the verification core: each forged or inconsistent event a
// malicious PDS could send must be dropped with its specific reason (docs/design.md §4 item 12).
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { BytesWrapper, type CidLink, encode } from '@atcute/cbor'
import { fromString, toCidLink } from '@atcute/cid'
import { generateKeypair, type TestKeypair } from '../../test/support/keypair.ts'
import { messageBody, TestRepo } from '../../test/support/test-repo.ts'
import { encodeCarSlice, readCarSlice } from '../protocol/car.ts'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import { decodeFrame, encodeMessageFrame } from '../protocol/frame.ts'
import type { CommitMessage, SyncMessage } from '../protocol/messages.ts'
import { MessageError, parseMessage } from '../protocol/messages.ts'
import { mstKeyHeight } from '../protocol/mst.ts'
import { createTid } from '../protocol/syntax/index.ts'
import { type VerifyContext, verifyCommit, verifySync } from './commit.ts'
import { verifySignature } from './crypto/signature.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const post = (i: number) => ({
  action: 'create' as const,
  path: `app.bsky.feed.post/3l${String(i).padStart(11, '0')}`,
})
const ctx = (key: TestKeypair, over: Partial<VerifyContext> = {}): VerifyContext => ({
  key: key.publicKey,
  previous: null,
  now: Date.now(),
  mode: 'strict',
  checkSignature: verifySignature,
  ...over,
})
async function reasonOf(msg: CommitMessage, c: VerifyContext): Promise<string> {
  const v = await verifyCommit(msg, c)
  return v.ok ? 'ok' : v.reason
}
const syncReason = (msg: SyncMessage, c: VerifyContext) => {
  const v = verifySync(msg, c)
  return v.ok ? 'ok' : v.reason
}

/** Signs a commit object for `data` and returns its CID and block. */
function signCommit(
  key: TestKeypair,
  fields: Record<string, unknown>,
): { cid: string; bytes: Uint8Array } {
  const sig = key.sign(encode(fields))
  const bytes = encode({ ...fields, sig: new BytesWrapper(sig) })
  return { cid: cidStringForDagCbor(bytes), bytes }
}

describe('commit tampering', () => {
  let repo: TestRepo
  let msg: CommitMessage
  let previous: { rev: string; data: string | null }
  before(async () => {
    repo = new TestRepo(DID, generateKeypair('k256'))
    for (let i = 0; i < 40; i += 10)
      await repo.commit(Array.from({ length: 10 }, (_, j) => post(i + j)))
    previous = { rev: repo.rev!, data: repo.root }
    msg = await repo.commit([
      post(100),
      { action: 'update', path: post(3).path, record: { text: 'edited' } },
    ])
    assert.equal(await reasonOf(msg, ctx(repo.keypair, { previous })), 'ok')
  })

  test('a created record missing from the CAR: bad-car', async () => {
    const car = readCarSlice(msg.blocks)
    const recordCid = msg.ops[0]!.cid!.$link
    const blocks = [...car.blocks].filter(([cid]) => cid !== recordCid)
    const tampered = { ...msg, blocks: encodeCarSlice(car.roots, blocks) }
    assert.equal(await reasonOf(tampered, ctx(repo.keypair, { previous })), 'bad-car')
    // ... unless the (deprecated) tooBig flag says blocks were left out; then inversion decides.
    assert.equal(
      await reasonOf({ ...tampered, tooBig: true }, ctx(repo.keypair, { previous })),
      'ok',
    )
  })

  test('a raw-codec (0x55) CID in place of a dag-cbor one is an invalid message', () => {
    const raw = msg.commit.$link.replace(/^bafyrei/, 'bafkrei')
    for (const body of [
      { ...messageBody(msg), commit: { $link: raw } },
      { ...messageBody(msg), prevData: { $link: raw } },
      { ...messageBody(msg), ops: [{ ...msg.ops[0]!, cid: { $link: raw } }] },
    ]) {
      const frame = decodeFrame(encodeMessageFrame('#commit', body))
      assert.ok(frame.op === 1)
      assert.throws(
        () => parseMessage(frame),
        (err: unknown) => err instanceof MessageError && err.reason === 'invalid-message',
      )
    }
  })

  test('an update or delete without prev cannot be inverted in strict mode', async () => {
    const noPrev = { ...msg, ops: msg.ops.map(({ prev: _p, ...o }) => o) }
    assert.equal(await reasonOf(noPrev, ctx(repo.keypair, { previous })), 'inversion-failed')
  })

  test('an update whose prev equals its cid changes nothing: inversion-failed', async () => {
    const same = {
      ...msg,
      ops: msg.ops.map((o) => (o.action === 'update' ? { ...o, prev: o.cid! } : o)),
    }
    assert.equal(await reasonOf(same, ctx(repo.keypair, { previous })), 'inversion-failed')
  })

  test('a signed commit with an extra field, or version 1: bad-commit', async () => {
    const car = readCarSlice(msg.blocks)
    const base = {
      did: DID,
      version: 3,
      data: toCidLink(fromString(repo.root!)),
      rev: msg.rev,
      prev: null,
    }
    for (const fields of [
      { ...base, extra: 1 },
      { ...base, version: 1 },
    ]) {
      const signed = signCommit(repo.keypair, fields)
      const blocks = [
        [signed.cid, signed.bytes] as const,
        ...[...car.blocks].filter(([c]) => c !== msg.commit.$link),
      ]
      const tampered = {
        ...msg,
        commit: toCidLink(fromString(signed.cid)),
        blocks: encodeCarSlice([signed.cid], blocks),
      }
      assert.equal(await reasonOf(tampered, ctx(repo.keypair, { previous })), 'bad-commit')
    }
  })

  test('extra CAR roots and a duplicated block do not change the verdict', async () => {
    const car = readCarSlice(msg.blocks)
    const blocks = [...car.blocks, [...car.blocks][0]!]
    const tampered = {
      ...msg,
      blocks: encodeCarSlice([...car.roots, msg.ops[0]!.cid!.$link], blocks),
    }
    assert.equal(await reasonOf(tampered, ctx(repo.keypair, { previous })), 'ok')
  })
})

describe('an MST with a key stored at the wrong depth cannot fake ops', () => {
  // Two keys of height 1 belong together in the root. Here the second is hidden in a child node
  // (which the root's height says is height 0): a lookup finds it, but undoing a "create" of it
  // leaves the tree unchanged, so without shape checks a PDS could claim it again and again.
  test('the forged tree is rejected with inversion-failed', async () => {
    const keys = Array.from(
      { length: 3000 },
      (_, i) => `app.bsky.feed.post/3l${String(i).padStart(11, '0')}`,
    )
    const [first, second] = keys.filter((k) => mstKeyHeight(k) === 1) as [string, string]
    assert.ok(first < second)
    const key = generateKeypair('k256')
    const record = encode({ text: 'x' })
    const recordCid = toCidLink(fromString(cidStringForDagCbor(record)))
    const node = (e: { k: string; t: CidLink | null }[]) => {
      let prev = ''
      const entries = e.map(({ k, t }) => {
        let p = 0
        while (p < prev.length && prev[p] === k[p]) p++
        prev = k
        return { p, k: new BytesWrapper(new TextEncoder().encode(k.slice(p))), v: recordCid, t }
      })
      const bytes = encode({ l: null, e: entries })
      return { cid: cidStringForDagCbor(bytes), bytes }
    }
    const child = node([{ k: second, t: null }])
    const root = node([{ k: first, t: toCidLink(fromString(child.cid)) }])
    const rev = createTid(Date.now() * 1000, 1)
    const commit = signCommit(key, {
      did: DID,
      version: 3,
      data: toCidLink(fromString(root.cid)),
      rev,
      prev: null,
    })
    const msg: CommitMessage = {
      type: '#commit',
      seq: 1,
      repo: DID,
      rev,
      since: null,
      commit: toCidLink(fromString(commit.cid)),
      blocks: encodeCarSlice(
        [commit.cid],
        [
          [commit.cid, commit.bytes],
          [root.cid, root.bytes],
          [child.cid, child.bytes],
          [recordCid.$link, record],
        ],
      ),
      ops: [
        { action: 'create', path: first, cid: recordCid },
        { action: 'create', path: second, cid: recordCid },
      ],
      blobs: [],
      time: new Date().toISOString(),
      rebase: false,
      tooBig: false,
    }
    const v = await verifyCommit(msg, ctx(key))
    assert.equal(v.ok ? 'ok' : v.reason, 'inversion-failed')
    assert.match(v.ok ? '' : v.detail, /height/)
    // The same claim as a later commit with prevData = the (unchanged) tree: still rejected.
    const again = {
      ...msg,
      since: createTid(1, 0),
      prevData: toCidLink(fromString(root.cid)),
      ops: [msg.ops[1]!],
    }
    assert.equal(await reasonOf(again, ctx(key)), 'inversion-failed')
  })
})

describe('#sync tampering', () => {
  let repo: TestRepo
  before(async () => {
    repo = new TestRepo(DID, generateKeypair('p256'))
    await repo.commit([post(1)])
  })
  test('another DID in the event: commit-mismatch', () => {
    const sync = repo.sync()
    assert.equal(
      syncReason({ ...sync, did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }, ctx(repo.keypair)),
      'commit-mismatch',
    )
  })
  test('a rev more than 5 minutes ahead: future-rev', () => {
    const sync = repo.sync({ revTimeMs: Date.now() + 10 * 60_000 })
    assert.equal(syncReason(sync, ctx(repo.keypair)), 'future-rev')
  })
  test('a CAR whose root is not a commit: bad-commit; garbage: bad-car; another key: bad-signature', () => {
    const sync = repo.sync()
    const notCommit = encode({ hello: 'world' })
    const cid = cidStringForDagCbor(notCommit)
    assert.equal(
      syncReason({ ...sync, blocks: encodeCarSlice([cid], [[cid, notCommit]]) }, ctx(repo.keypair)),
      'bad-commit',
    )
    assert.equal(syncReason({ ...sync, blocks: Uint8Array.of(9, 9) }, ctx(repo.keypair)), 'bad-car')
    assert.equal(syncReason(sync, ctx(generateKeypair('p256'))), 'bad-signature')
  })
})
