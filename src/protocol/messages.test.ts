// Links in a frame's body. The atproto data model encodes a link in DAG-CBOR as CBOR tag 42; the
// `{"$link": "…"}` object is its JSON spelling only. In a CBOR body such an object is a map, so a
// field the Lexicon types as a link that holds one makes the message invalid (relaying it would
// put a map where consumers expect a link).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode } from '@atcute/cbor'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageBody, TestRepo } from '../../test/support/test-repo.ts'
import { decodeFrame, encodeMessageFrame } from './frame.ts'
import { MessageError, parseMessage } from './messages.ts'

/**
 * `raw` with one appearance of the tag-42 link to `cid` written as a {$link} map: the `nth` from
 * the start, or the last when `nth` is 'last'.
 */
function linkAsMap(raw: Uint8Array, cid: string, nth: number | 'last'): Uint8Array {
  const tagged = Buffer.from(encode({ $link: cid } as never))
  const key = Buffer.from('$link')
  const map = Buffer.concat([
    Uint8Array.of(0xa1, 0x60 + key.length),
    key,
    Uint8Array.of(0x78, cid.length),
    Buffer.from(cid),
  ])
  const bytes = Buffer.from(raw)
  let at = nth === 'last' ? bytes.lastIndexOf(tagged) : bytes.indexOf(tagged)
  for (let i = 1; nth !== 'last' && i < nth; i++) at = bytes.indexOf(tagged, at + 1)
  assert.ok(at >= 0, 'the link is in the frame')
  return Buffer.concat([bytes.subarray(0, at), map, bytes.subarray(at + tagged.length)])
}

function parse(raw: Uint8Array): unknown {
  const frame = decodeFrame(raw)
  assert.equal(frame.op, 1)
  return parseMessage(frame as Extract<typeof frame, { op: 1 }>)
}

describe('links in a #commit body', () => {
  it('a {$link} map where the Lexicon says link is an invalid message', async () => {
    const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaab' }])
    const commit = await repo.commit([
      { action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaac' },
    ])
    const body = messageBody(commit)
    const op = (body.ops as { cid: { $link: string } }[])[0]!
    const blob = op.cid // any link will do as a blob's
    const raw = encodeMessageFrame('#commit', { ...body, blobs: [blob], seq: 5 })
    assert.ok(parse(raw), 'the frame as sent parses')
    // Keys sort by length, then bytes: ops, blobs, blocks, commit, prevData. The op's cid is also
    // the blob here, and appears again inside blocks (the tree's leaf), as does the commit (the
    // CAR's root): so the op's is the first appearance, the blob's the second, and commit's and
    // prevData's the last.
    const cases: [string, string, number | 'last'][] = [
      ["an op's cid", op.cid.$link, 1],
      ['a blob', blob.$link, 2],
      ['commit', (body.commit as { $link: string }).$link, 'last'],
      ['prevData', (body.prevData as { $link: string }).$link, 'last'],
    ]
    for (const [what, cid, which] of cases) {
      assert.throws(
        () => parse(linkAsMap(raw, cid, which)),
        (err: unknown) => err instanceof MessageError && err.reason === 'invalid-message',
        what,
      )
    }
  })
})

describe('bytes in a #commit body', () => {
  it('a {$bytes} map where the Lexicon says bytes is an invalid message', async () => {
    const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
    const commit = await repo.commit([
      { action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaab' },
    ])
    // Encoded with a key of the same length, then renamed: CBOR gets a map {"$bytes": "…"}.
    const raw = encodeMessageFrame('#commit', {
      ...messageBody(commit),
      blocks: { $bytez: 'AAAA' },
      seq: 5,
    })
    const at = Buffer.from(raw).indexOf('$bytez')
    assert.ok(at > 0)
    const spelled = Uint8Array.from(raw)
    spelled.set(Buffer.from('$bytes'), at)
    assert.throws(
      () => parse(spelled),
      (err: unknown) => err instanceof MessageError && err.reason === 'invalid-message',
    )
  })
})
