// Fuzzing of the decoders between the socket and verification: event-stream frames (decodeFrame
// → FrameError), subscribeRepos bodies (parseMessage → MessageError), CAR v1 slices
// (readCarSlice → CarError) and MST node blocks (parseMstNode → MstNodeError). Proves that on
// arbitrary bytes, on valid inputs then damaged, and on hostile shapes (lengths and varints
// claiming 2^31 to 2^64-1, non-minimal varints, 100,000 levels of nesting, CIDs of the wrong
// version, codec, hash or digest length, fields of the wrong type) each only returns or throws
// its own typed error, never a TypeError, RangeError or stack overflow, without allocating for
// what a header claims; and that valid inputs still decode to what was encoded.
// The rules: a frame is two DAG-CBOR items, header `{op, t}` then a body map (event stream spec);
// a CAR v1 slice is a varint-prefixed DAG-CBOR header `{version: 1, roots}` then varint-prefixed
// blocks of CID + bytes, every block hashing to its CID; an MST node is `{l, e}` with entries
// `{p, k, v, t}` whose keys are prefix-compressed repo paths of one height, in ascending order.
// fuzz.test.ts beside this file damages real scenario frames through the whole pure pipeline;
// this file drives each decoder on its own, with inputs shaped for it. Fixed seed, short runs in
// `npm test`, 100 times more with RELAY_TEST_LONG=1; the time limit per property is a hang
// guard, not a speed requirement.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BytesWrapper, CidLinkWrapper, encode } from '@atcute/cbor'
import * as CID from '@atcute/cid'
import fc from 'fast-check'
import { CarError, encodeCarSlice, readCarSlice } from '../../src/protocol/car.ts'
import { blockMatchesCid, cidStringForDagCbor, sha256 } from '../../src/protocol/cid.ts'
import { decodeFrame, encodeMessageFrame, FrameError } from '../../src/protocol/frame.ts'
import { MessageError, parseMessage } from '../../src/protocol/messages.ts'
import {
  isValidMstKey,
  MstNodeError,
  mstKeyHeight,
  parseMstNode,
  transientMstNodeBlock,
} from '../../src/protocol/mst.ts'
import { isValidDid, isValidTid } from '../../src/protocol/syntax/index.ts'
import {
  applyDamage,
  cborHead,
  concatBytes,
  damages,
  fuzzParams,
  HUGE_LENGTHS,
  nestedCbor,
  onlyTyped,
  varint,
  withBoundedMemory,
} from '../support/fuzz-inputs.ts'
import { SEED, scaled } from '../support/long-mode.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const TIME = '2026-12-02T10:00:00.000Z'
const link = (bytes: Uint8Array, codec: 0x71 | 0x55 = CID.CODEC_DCBOR) =>
  new CidLinkWrapper(CID.fromDigest(codec, sha256(bytes)).bytes)

/** A hostile item: a head claiming a huge length, or deep nesting, or damaged nesting. */
const hostileItem = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(2, 3, 4, 5),
      fc.constantFrom(...HUGE_LENGTHS),
      fc.uint8Array({ maxLength: 16 }),
    )
    .map(([major, n, tail]) => concatBytes(cborHead(major, n), tail)),
  fc
    .tuple(
      fc.constantFrom(200, 5_000, 100_000),
      fc.constantFrom('array' as const, 'map' as const, 'mixed' as const),
    )
    .map(([depth, kind]) => nestedCbor(depth, kind)),
)

/** Every frame outcome is a frame or a FrameError; a message frame's body is then a message or a MessageError. */
function frameOutcome(bytes: Uint8Array): string {
  const f = onlyTyped(() => decodeFrame(bytes), FrameError, 'decodeFrame')
  if (!f.ok) return `frame:${(f.error as FrameError).code}`
  if (f.value.op !== 1) return 'error-frame'
  const frame = f.value
  const m = onlyTyped(() => parseMessage(frame), MessageError, 'parseMessage')
  return m.ok ? m.value.type : `message:${(m.error as MessageError).reason}`
}

test('frames: arbitrary bytes, and valid frames with hostile items spliced in, give FrameError only', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      frameOutcome(bytes)
    }),
    fuzzParams(SEED, scaled(2_000, 200_000)),
  )
  const body = fc.record(
    {
      seq: fc.maxSafeNat(),
      did: fc.constantFrom(DID, 'did:web:example.com', 'not a did'),
      time: fc.constantFrom(TIME, 'yesterday'),
      extra: fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), { maxLength: 4 }),
    },
    { noNullPrototype: true },
  )
  fc.assert(
    fc.property(
      fc.constantFrom('#identity', '#account', '#info', '#sync', '#commit', '#tombstone', '#nope'),
      body,
      hostileItem,
      fc.nat(),
      (type, b, item, at) => {
        const frame = encodeMessageFrame(type, b)
        // a valid frame decodes to what was encoded
        const decoded = decodeFrame(frame)
        assert.ok(decoded.op === 1 && decoded.type === type)
        assert.deepEqual(decoded.body, b)
        frameOutcome(frame)
        const i = at % (frame.length + 1)
        const spliced = concatBytes(frame.subarray(0, i), item, frame.subarray(i))
        const outcome = withBoundedMemory(64, () => frameOutcome(spliced))
        assert.ok(
          outcome.startsWith('frame:') ||
            outcome.startsWith('message:') ||
            outcome === 'error-frame',
          outcome,
        )
      },
    ),
    fuzzParams(SEED, scaled(300, 30_000)),
  )
})

test('message bodies with fields of every wrong type give MessageError only', () => {
  const cid = link(Uint8Array.of(1))
  const anyField = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -5, max: 5 }),
    fc.maxSafeNat(),
    fc.constantFrom(
      DID,
      'did:web:example.com',
      'did:plc:',
      'DID:PLC:X',
      `did:plc:${'a'.repeat(3000)}`,
    ),
    fc.constantFrom('3lmxjza3nva27', '3lmxjza3nva2', 'zzzzzzzzzzzzz', TIME, '2026-13-45T99:99:99Z'),
    fc.constantFrom('app.bsky.feed.post/3lmxjza3nva27', 'a/b', '/', '../x', 'create', 'delete'),
    fc.string({ maxLength: 16 }),
    fc.constant(cid),
    fc.constant(link(Uint8Array.of(2), CID.CODEC_RAW)),
    fc.uint8Array({ maxLength: 8 }).map((b) => new BytesWrapper(b)),
    fc.constant([{ action: 'create', path: 'app.bsky.feed.post/3lmxjza3nva27', cid }]),
    fc.array(
      fc.oneof(
        fc.constant(cid),
        fc.constant(null),
        fc.record(
          {
            action: fc.constantFrom('create', 'update', 'delete', 'x'),
            path: fc.string(),
            cid: fc.constant(cid),
            prev: fc.constant(7),
          },
          { noNullPrototype: true },
        ),
      ),
      { maxLength: 3 },
    ),
  )
  const fields = [
    'seq',
    'repo',
    'did',
    'rev',
    'since',
    'commit',
    'blocks',
    'ops',
    'blobs',
    'prevData',
    'time',
    'rebase',
    'tooBig',
    'active',
    'status',
    'handle',
    'name',
    'message',
  ]
  const bodyOf = fc
    .array(fc.tuple(fc.constantFrom(...fields), anyField), { maxLength: 14 })
    .map((pairs) => {
      const b: Record<string, unknown> = {}
      for (const [k, v] of pairs) if (v !== undefined) b[k] = v
      return b
    })
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constantFrom(
          '#commit',
          '#sync',
          '#identity',
          '#account',
          '#info',
          '#handle',
          '#migrate',
        ),
        fc.string({ maxLength: 100 }),
      ),
      bodyOf,
      (type, body) => {
        const m = onlyTyped(() => parseMessage({ op: 1, type, body }), MessageError, 'parseMessage')
        if (!m.ok) return
        const msg = m.value
        // what passes carries valid identifiers
        if (msg.type === '#commit') assert.ok(isValidDid(msg.repo) && isValidTid(msg.rev))
        if (msg.type === '#sync' || msg.type === '#identity' || msg.type === '#account')
          assert.ok(isValidDid(msg.did))
      },
    ),
    fuzzParams(SEED, scaled(3_000, 300_000)),
  )
})

/** Random blocks: dag-cbor records and raw blobs, keyed by their CID strings. */
const blocks = fc
  .array(
    fc.oneof(
      fc
        .record({ text: fc.string({ maxLength: 20 }), n: fc.integer() }, { noNullPrototype: true })
        .map((r) => {
          const bytes = encode({ $type: 'app.bsky.feed.post', ...r })
          return [cidStringForDagCbor(bytes), bytes] as const
        }),
      fc
        .uint8Array({ maxLength: 40 })
        .map(
          (bytes) => [CID.toString(CID.fromDigest(CID.CODEC_RAW, sha256(bytes))), bytes] as const,
        ),
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((list) => new Map(list))

/** readCarSlice returns only slices whose every block hashes to its CID, or throws CarError. */
function car(bytes: Uint8Array): ReturnType<typeof readCarSlice> | CarError {
  const r = onlyTyped(() => readCarSlice(bytes), CarError, 'readCarSlice')
  if (!r.ok) return r.error as CarError
  assert.ok(r.value.roots.length > 0)
  for (const [cid, data] of r.value.blocks)
    assert.ok(blockMatchesCid(CID.fromString(cid), data), cid)
  return r.value
}

test('CAR slices: valid ones round-trip; damaged ones and arbitrary bytes give CarError or hash-checked blocks', () => {
  fc.assert(
    fc.property(blocks, damages(3), (map, edits) => {
      const roots = [map.keys().next().value!]
      const bytes = encodeCarSlice(roots, map)
      const read = car(bytes)
      assert.ok(!(read instanceof CarError))
      assert.deepEqual(read.roots, roots)
      assert.deepEqual(new Map([...read.blocks].map(([k, v]) => [k, Uint8Array.from(v)])), map)
      car(applyDamage(bytes, edits))
    }),
    fuzzParams(SEED, scaled(1_000, 100_000)),
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      car(bytes)
    }),
    fuzzParams(SEED, scaled(2_000, 200_000)),
  )
})

test('CAR slices: huge or non-minimal varints, bad headers and CIDs of the wrong form give CarError', () => {
  const data = encode({ a: 1 })
  const good = CID.fromString(cidStringForDagCbor(data)).bytes
  const header = encode({ version: 1, roots: [new CidLinkWrapper(good)] })
  const headerPart = concatBytes(varint(BigInt(header.length)), header)
  // a block's CID: version, codec, multihash code, digest length (the reader wants 36 bytes)
  const badCid = fc
    .tuple(
      fc.constantFrom(0, 1, 2, 0x12),
      fc.constantFrom(0x71, 0x55, 0x70, 0x00),
      fc.constantFrom(0x12, 0x13, 0x00),
      fc.constantFrom(32, 31, 33, 0, 255),
    )
    .filter(([v, c, h, l]) => !(v === 1 && (c === 0x71 || c === 0x55) && h === 0x12 && l === 32))
    .map(([v, c, h, l]) => concatBytes(Uint8Array.of(v, c, h, l), good.subarray(4)))
  const hostile = fc.oneof(
    // header length claims
    fc
      .tuple(fc.constantFrom(...HUGE_LENGTHS), fc.constantFrom(0, 1, 3))
      .map(([n, pad]) => concatBytes(varint(n, pad), header)),
    // over-long varints (more groups than any length needs)
    fc
      .integer({ min: 9, max: 40 })
      .map((n) => concatBytes(new Uint8Array(n).fill(0xff), Uint8Array.of(1), header)),
    // block length claims
    fc.constantFrom(...HUGE_LENGTHS).map((n) => concatBytes(headerPart, varint(n), good, data)),
    // a block whose CID is not CIDv1 + dag-cbor/raw + sha-256 + 32 bytes
    badCid.map((cid) =>
      concatBytes(headerPart, varint(BigInt(cid.length + data.length)), cid, data),
    ),
    // headers that are not CAR v1 headers
    fc
      .constantFrom<unknown>(
        { version: 2, roots: [new CidLinkWrapper(good)] },
        { version: 1, roots: [] },
        { version: 1 },
        { version: 1, roots: 'x' },
        [1],
        'car',
        { version: 1, roots: [new CidLinkWrapper(good)], x: 1 },
      )
      .map((h) => {
        const hb = encode(h)
        return concatBytes(varint(BigInt(hb.length)), hb)
      }),
    // a header that is 100,000 levels deep
    fc.constant(nestedCbor(100_000, 'mixed')).map((h) => concatBytes(varint(BigInt(h.length)), h)),
  )
  fc.assert(
    fc.property(hostile, (bytes) => {
      const r = withBoundedMemory(16, () => car(bytes))
      // the extra header field is tolerated by the reader; everything else must be refused
      if (!(r instanceof CarError)) assert.deepEqual(r.roots, [CID.toString(CID.decode(good))])
    }),
    fuzzParams(SEED, scaled(500, 50_000)),
  )
})

/** Keys of height 0 (three in four keys), so that any sorted set of them is one valid node. */
const mstKeys = fc
  .uniqueArray(
    fc
      .tuple(
        fc.constantFrom('app.bsky.feed.post', 'app.bsky.feed.like', 'a.b.c'),
        fc.stringMatching(/^[a-zA-Z0-9._:~-]{1,20}$/),
      )
      .map(([c, r]) => `${c}/${r}`)
      .filter((k) => isValidMstKey(k) && mstKeyHeight(k) === 0),
    { maxLength: 8 },
  )
  .map((keys) => [...keys].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)))

/** parseMstNode returns a node whose keys are valid and ascending, or throws MstNodeError. */
function mst(bytes: Uint8Array): ReturnType<typeof parseMstNode> | MstNodeError {
  const r = onlyTyped(() => parseMstNode(bytes), MstNodeError, 'parseMstNode')
  if (!r.ok) return r.error as MstNodeError
  let prev = ''
  for (const e of r.value.entries) {
    assert.ok(isValidMstKey(e.key) && e.key > prev)
    prev = e.key
  }
  return r.value
}

test('MST nodes: valid ones round-trip; damaged ones, arbitrary bytes and hostile items give MstNodeError', () => {
  const value = link(Uint8Array.of(9))
  fc.assert(
    fc.property(mstKeys, fc.boolean(), damages(3), (keys, withLeft, edits) => {
      const node = {
        left: withLeft ? value : null,
        entries: keys.map((key) => ({ key, value, right: null })),
      }
      // Copied: the encoder's buffer is reused by the next node it writes.
      const bytes = Uint8Array.from(transientMstNodeBlock(node, null))
      const parsed = mst(bytes)
      assert.ok(!(parsed instanceof MstNodeError))
      assert.deepEqual(
        parsed.entries.map((e) => e.key),
        keys,
      )
      mst(applyDamage(bytes, edits))
    }),
    fuzzParams(SEED, scaled(1_000, 100_000)),
  )
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }), hostileItem), (bytes) => {
      withBoundedMemory(64, () => mst(bytes))
    }),
    fuzzParams(SEED, scaled(1_000, 100_000)),
  )
})

test('MST nodes with entries of every wrong shape give MstNodeError', () => {
  const cid = link(Uint8Array.of(3))
  const anyValue = fc.oneof(
    fc.constant(null),
    fc.integer({ min: -3, max: 2_000 }),
    fc.maxSafeNat(),
    fc.constantFrom(cid, link(Uint8Array.of(4), CID.CODEC_RAW)),
    fc.constantFrom('app.bsky.feed.post/x', ''),
    fc.uint8Array({ maxLength: 12 }).map((b) => new BytesWrapper(b)),
    fc
      .constantFrom(
        Uint8Array.of(0xff, 0xfe),
        Uint8Array.of(0xc3),
        Buffer.from('app.bsky.feed.post/abc'),
      )
      .map((b) => new BytesWrapper(b)),
    fc.constant([]),
  )
  const entry = fc.dictionary(fc.constantFrom('p', 'k', 'v', 't', 'x'), anyValue, {
    maxKeys: 5,
    noNullPrototype: true,
  })
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(null), anyValue),
      fc.array(fc.oneof(entry, anyValue), { maxLength: 5 }),
      fc.boolean(),
      (l, e, extra) => {
        const node: Record<string, unknown> = { l, e }
        if (extra) node.z = 1
        mst(encode(node))
      },
    ),
    fuzzParams(SEED, scaled(3_000, 300_000)),
  )
})
