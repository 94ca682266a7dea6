// The output frame taken from an upstream #commit's own bytes must be byte for byte what encoding
// the relay's Lexicon body gives (output.ts), and every spelling the relay normalises must fall
// back to encoding.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode } from '@atcute/cbor'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageBody, TestRepo } from '../../test/support/test-repo.ts'
import { decodeFrame, encodeMessageFrame } from './frame.ts'
import { parseMessage } from './messages.ts'
import { commitBody, frameWithSeq, prepareFrame } from './output.ts'
import { reusedCommitFrame } from './upstream-frame.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** The frame the relay emits for `raw` at `seq`, by encoding, and by reuse when it applies. */
function bothWays(raw: Uint8Array, seq: number): { encoded: string; reused: string | null } {
  const frame = decodeFrame(raw)
  assert.equal(frame.op, 1)
  const msg = parseMessage(frame as Extract<typeof frame, { op: 1 }>)
  assert.equal(msg.type, '#commit')
  const encoded = hex(frameWithSeq(prepareFrame('#commit', commitBody(msg as never)), seq))
  const reused = reusedCommitFrame(raw, frame.body as Record<string, unknown>)
  return { encoded, reused: reused === null ? null : hex(frameWithSeq(reused, seq)) }
}

async function commits(): Promise<Record<string, unknown>[]> {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  const bodies: Record<string, unknown>[] = []
  const paths = Array.from(
    { length: 40 },
    (_, i) => `app.bsky.feed.post/3l${String(i).padStart(11, 'a')}`,
  )
  for (const [i, path] of paths.entries()) {
    const writes = [{ action: 'create' as const, path, record: { text: `post ${i}` } }]
    if (i % 5 === 4)
      writes.push({ action: 'create' as const, path: `${path}x`, record: { text: `more ${i}` } })
    bodies.push(messageBody(await repo.commit(writes)))
  }
  bodies.push(
    messageBody(await repo.commit([{ action: 'update', path: paths[0]!, record: { t: 1 } }])),
  )
  bodies.push(messageBody(await repo.commit([{ action: 'delete', path: paths[1]! }])))
  return bodies
}

describe('reusedCommitFrame', () => {
  it('gives exactly the encoded frame for commits as PDSes send them, at any seq', async () => {
    const bodies = await commits()
    assert.ok(bodies.some((b) => 'prevData' in b) && bodies.some((b) => b.since === null))
    for (const [i, body] of bodies.entries()) {
      for (const seq of [0, 23, 24, 255, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
        const upstreamSeq = [1, 100_000, 2 ** 40][i % 3]!
        const raw = encodeMessageFrame('#commit', { ...body, seq: upstreamSeq })
        const { encoded, reused } = bothWays(raw, seq)
        assert.equal(reused, encoded, `commit ${i} at seq ${seq}`)
      }
    }
  })

  it('falls back to encoding for every spelling the relay normalises', async () => {
    const [body] = (await commits()).slice(-1) // a delete: its op carries cid null
    assert.ok(body)
    const ops = body.ops as Record<string, unknown>[]
    const variants: Record<string, Record<string, unknown>> = {
      'an unknown field': { ...body, extra: 'dropped by the relay' },
      'since absent, an unknown field in its place': {
        ...body,
        since: undefined,
        extra: 'dropped by the relay',
      },
      'rebase absent': { ...body, rebase: undefined },
      'tooBig null': { ...body, tooBig: null },
      'blobs absent': { ...body, blobs: undefined },
      'blobs null': { ...body, blobs: null },
      'prevData null': { ...body, prevData: null },
      "an op's prev null": { ...body, ops: ops.map((o) => ({ ...o, prev: null })) },
      'a delete without cid': {
        ...body,
        ops: ops.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'cid'))),
      },
      'an op with an extra field': { ...body, ops: ops.map((o) => ({ ...o, note: 1 })) },
      'a delete with an extra field for its cid': {
        ...body,
        ops: ops.map((o) => ({
          ...Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'cid')),
          note: 1,
        })),
      },
    }
    for (const [what, variant] of Object.entries(variants)) {
      const clean = Object.fromEntries(Object.entries(variant).filter(([, v]) => v !== undefined))
      const raw = encodeMessageFrame('#commit', { ...clean, seq: 9 })
      const { encoded, reused } = bothWays(raw, 9)
      assert.equal(reused, null, what)
      // Why it must fall back: the upstream bytes, at the same seq, are not what the relay emits.
      assert.notEqual(hex(raw), encoded, what)
    }
  })

  it('reuses commits whose ops carry a prev link, which the relay keeps', async () => {
    const bodies = await commits()
    for (const body of bodies.slice(-3)) {
      const ops = (body.ops as Record<string, unknown>[]).map((o) => ({ ...o, prev: body.commit }))
      const raw = encodeMessageFrame('#commit', { ...body, ops, seq: 3 })
      const { encoded, reused } = bothWays(raw, 4)
      assert.notEqual(reused, null)
      assert.equal(reused, encoded)
    }
  })

  it('refuses a header with more than op and t', async () => {
    const [body] = await commits()
    const header = encode({ op: 1, t: '#commit', x: 1 })
    const bodyBytes = encode({ ...body!, seq: 1 })
    const raw = new Uint8Array(header.length + bodyBytes.length)
    raw.set(header)
    raw.set(bodyBytes, header.length)
    assert.equal(reusedCommitFrame(raw, { ...body!, seq: 1 }), null)
    // A header of the same length but other bytes, so only the header comparison can refuse it.
    const other = encodeMessageFrame('#commix', { ...body!, seq: 1 })
    assert.equal(reusedCommitFrame(other, { ...body!, seq: 1 }), null)
    const plain = encodeMessageFrame('#commit', { ...body!, seq: 1 })
    assert.notEqual(reusedCommitFrame(plain, { ...body!, seq: 1 }), null)
  })
})
