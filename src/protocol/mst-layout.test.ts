import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BytesWrapper, type CidLink, CidLinkWrapper, decode, encode } from '@atcute/cbor'
import fc from 'fast-check'
import { applyDamage, damages, fuzzParams } from '../../test/support/fuzz-inputs.ts'
import { SEED, scaled } from '../../test/support/long-mode.ts'
import { checkDagCbor } from './cbor/strict.ts'
import {
  commonPrefixLength,
  readCanonicalNode,
  SCRATCH_LIMIT,
  transientCanonicalNode,
} from './mst-layout.ts'

interface Entry {
  key: string
  value: CidLink
  right: CidLink | null
}

/** The node as the general encoder writes it (what the MST's canonical block is). */
function generalBlock(left: CidLink | null, entries: readonly Entry[]): Uint8Array {
  let prev = ''
  const e = entries.map(({ key, value, right }) => {
    const p = commonPrefixLength(prev, key)
    prev = key
    return { p, k: new BytesWrapper(new TextEncoder().encode(key.slice(p))), v: value, t: right }
  })
  return encode({ l: left, e })
}

/** What the layout reader reads: `l` and the raw entries, or undefined. */
function readRaw(block: Uint8Array) {
  const e: { p: number; k: Uint8Array; v: CidLink; t: CidLink | null }[] = []
  const l = readCanonicalNode(block, (_i, p, b, start, length, v, t) => {
    e.push({ p, k: b.slice(start, start + length), v, t })
    return true
  })
  return l === undefined ? undefined : { l, e }
}

/** What the general decoder reads of the same bytes, in the same form. */
function decodeRaw(block: Uint8Array) {
  const v = decode(block) as {
    l: CidLink | null
    e: { p: number; k: BytesWrapper; v: CidLink; t: CidLink | null }[]
  }
  return { l: v.l, e: v.e.map((x) => ({ p: x.p, k: Uint8Array.from(x.k.buf), v: x.v, t: x.t })) }
}

/** A node written whole, copied out of the writer's reused buffer; null when not written so. */
function writeCanonicalNode(left: CidLink | null, entries: readonly Entry[]): Uint8Array | null {
  const view = transientCanonicalNode(left, entries, null)
  return view && Uint8Array.from(view)
}

const cid = (codec: number, digest: Uint8Array) =>
  new CidLinkWrapper(Uint8Array.from([0x01, codec, 0x12, 0x20, ...digest]))
/** Mostly the dag-cbor sha-256 links an MST holds; one in 40 a raw-codec one. */
const link = fc
  .tuple(
    fc.oneof(
      { arbitrary: fc.constant(0x71), weight: 39 },
      { arbitrary: fc.constant(0x55), weight: 1 },
    ),
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
  )
  .map(([codec, digest]) => cid(codec, digest))
/** Keys that share prefixes, some past 24 and 256 characters (longer heads), some not ASCII. */
const key = fc.oneof(
  fc.stringMatching(/^app\.bsky\.feed\.(post|like)\/3l[a-z0-9]{0,11}$/),
  fc.string({ minLength: 1, maxLength: 300 }),
)
const nodeOf = (key: fc.Arbitrary<string>) =>
  fc.record({
    left: fc.option(link, { nil: null }),
    entries: fc.uniqueArray(key, { maxLength: 40 }).chain((keys) =>
      fc.tuple(
        ...[...keys].sort().map((k) =>
          fc.record({
            key: fc.constant(k),
            value: link,
            right: fc.option(link, { nil: null }),
          }),
        ),
      ),
    ),
  })
const node = nodeOf(key)
/** Some keys not in ASCII, which are never written whole: only relinking writes their nodes. */
const unicodeNode = nodeOf(
  fc.oneof(key, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 })),
)

describe('MST node layout', () => {
  it('writes exactly what the general encoder writes, whenever it writes', () => {
    let written = 0
    fc.assert(
      fc.property(node, ({ left, entries }) => {
        const out = writeCanonicalNode(left, entries)
        if (out === null) return
        written++
        assert.deepEqual(out, generalBlock(left, entries))
      }),
      fuzzParams(SEED, scaled(300, 30_000)),
    )
    assert.ok(written > 50, `only ${written} nodes were written in place`)
  })

  it('leaves what it cannot write to the general encoder', () => {
    const v = cid(0x71, new Uint8Array(32))
    const entry = (key: string, value: CidLink = v) => ({ key, value, right: null })
    assert.equal(writeCanonicalNode(null, [entry('app.bsky.feed.post/é')]), null, 'not ASCII')
    assert.equal(writeCanonicalNode(null, [entry('a/b', cid(0x55, new Uint8Array(32)))]), null)
    assert.equal(writeCanonicalNode(null, [entry('a/b', { $link: 'bafyreie' } as CidLink)]), null)
    assert.ok(writeCanonicalNode(null, []))
  })

  it('reads exactly what the general decoder reads, whenever it reads', () => {
    let read = 0
    fc.assert(
      fc.property(node, damages(2), fc.boolean(), ({ left, entries }, list, damaged) => {
        const good = generalBlock(left, entries)
        const block = damaged ? applyDamage(good, list) : good
        const raw = readRaw(block)
        if (raw === undefined) return
        read++
        assert.deepEqual(raw, decodeRaw(block))
        // What it reads is canonical DAG-CBOR: the inversion skips the strict scan on it.
        assert.doesNotThrow(() => checkDagCbor(block))
      }),
      fuzzParams(SEED, scaled(400, 40_000)),
    )
    assert.ok(read > 100, `only ${read} nodes were read in place`)
  })

  it('writes a node read from a block, links changed, exactly as the general encoder does', () => {
    let relinked = 0
    fc.assert(
      fc.property(
        unicodeNode,
        fc.array(fc.option(link, { nil: null }), { minLength: 82, maxLength: 82 }),
        fc.array(link, { minLength: 41, maxLength: 41 }),
        fc.integer({ min: 0, max: 4 }),
        ({ left, entries }, newSubs, newValues, keep) => {
          const read = generalBlock(left, entries)
          const before = Uint8Array.from(read)
          // Each link kept, replaced by another, or (sometimes) swapped for null or the reverse.
          const pick = <T>(old: T, i: number, fresh: T) => (i % 5 < keep ? old : fresh)
          const l2 = pick(left, 81, newSubs[81]!)
          const e2 = entries.map((e, i) => ({
            key: e.key,
            value: pick(e.value, i, newValues[i]!),
            right: pick(e.right, i + 40, newSubs[i]!),
          }))
          const view = transientCanonicalNode(l2, e2, read)
          // Copied before the next write reuses its buffer.
          const out = view && Uint8Array.from(view)
          assert.deepEqual(read, before, 'the block read stays as it was')
          const whole = writeCanonicalNode(l2, e2)
          if (whole !== null) assert.ok(out !== null, 'what can be written whole is written')
          if (out === null) return
          // A key not in ASCII: only the relinking wrote it.
          if (whole === null) relinked++
          assert.deepEqual(out, generalBlock(l2, e2))
        },
      ),
      fuzzParams(SEED, scaled(300, 30_000)),
    )
    assert.ok(relinked > 20, `only ${relinked} nodes were relinked`)
  })

  it('hands out a reused buffer for hashing: the next node written reuses it', () => {
    const v = cid(0x71, new Uint8Array(32).fill(1))
    const w = cid(0x71, new Uint8Array(32).fill(2))
    const a = [{ key: 'a/a', value: v, right: null }]
    const view = transientCanonicalNode(null, a, null)!
    const owned = Uint8Array.from(view)
    assert.deepEqual(owned, generalBlock(null, a))
    const read = generalBlock(null, a)
    const other = transientCanonicalNode(null, [{ key: 'a/a', value: w, right: null }], read)!
    assert.equal(view.buffer, other.buffer, 'the next node reuses the buffer')
    assert.deepEqual(other, generalBlock(null, [{ key: 'a/a', value: w, right: null }]))
    assert.notDeepEqual(view, owned, 'the first view now reads the second node')
  })

  it('gives a node past the reused buffer limit a buffer of its own', () => {
    const v = cid(0x71, new Uint8Array(32).fill(3))
    // Keys that differ early, so each carries a long suffix: ~100 KB in all.
    const entries = Array.from({ length: 100 }, (_, i) => ({
      key: `a/${String(i).padStart(3, '0')}${'x'.repeat(900)}`,
      value: v,
      right: null,
    }))
    const big = transientCanonicalNode(null, entries, null)!
    assert.ok(big.length > SCRATCH_LIMIT)
    assert.deepEqual(big, generalBlock(null, entries))
    const small = transientCanonicalNode(null, entries.slice(0, 1), null)!
    assert.notEqual(small.buffer, big.buffer, 'the reused buffer was not grown to its size')
    assert.ok(small.buffer.byteLength <= SCRATCH_LIMIT)
    const relinked = transientCanonicalNode(v, entries, generalBlock(null, entries))!
    assert.notEqual(relinked.buffer, small.buffer)
    assert.deepEqual(relinked, generalBlock(v, entries))
  })

  it('writes and reads keys and prefixes past 255 bytes (three-byte heads)', () => {
    const v = cid(0x71, new Uint8Array(32).fill(7))
    const base = `app.bsky.feed.post/${'x'.repeat(280)}`
    const entries = [
      { key: `${base}a`, value: v, right: null },
      { key: `${base}b${'y'.repeat(300)}`, value: v, right: v },
    ]
    const out = writeCanonicalNode(v, entries)
    assert.ok(out)
    assert.deepEqual(out, generalBlock(v, entries))
    assert.deepEqual(readRaw(out), decodeRaw(out))
    assert.deepEqual(
      readRaw(out)?.e.map((e) => [e.p, e.k.length]),
      [
        [0, base.length + 1],
        [base.length, 301],
      ],
    )
  })

  it('does not read heads longer than they need to be, which the decoder refuses', () => {
    const v = cid(0x71, new Uint8Array(32))
    const good = generalBlock(null, [{ key: 'a/b', value: v, right: null }])
    // [a2 61 65 81 a4 61 6b 43 'a/b' 61 70 00 ...]: the entry count, the suffix length and p.
    const longer = (at: number, head: number) =>
      Uint8Array.from([...good.subarray(0, at), head, good[at]! & 0x1f, ...good.subarray(at + 1)])
    const three = (at: number, head: number) =>
      Uint8Array.from([
        ...good.subarray(0, at),
        head,
        0,
        good[at]! & 0x1f,
        ...good.subarray(at + 1),
      ])
    for (const [what, bytes] of [
      ['entry count', longer(3, 0x98)],
      ['key length', longer(7, 0x58)],
      ['prefix length', longer(13, 0x18)],
      ['key length in three bytes', three(7, 0x59)],
      ['prefix length in three bytes', three(13, 0x19)],
    ] as const) {
      assert.throws(() => decode(bytes), /non-canonical/, what)
      assert.equal(readRaw(bytes), undefined, what)
    }
  })

  it('stops when the entry callback says so', () => {
    const v = cid(0x71, new Uint8Array(32))
    const block = generalBlock(null, [
      { key: 'a/a', value: v, right: null },
      { key: 'a/b', value: v, right: null },
    ])
    const seen: number[] = []
    assert.equal(
      readCanonicalNode(block, (i) => {
        seen.push(i)
        return false
      }),
      undefined,
    )
    assert.deepEqual(seen, [0])
  })
})
