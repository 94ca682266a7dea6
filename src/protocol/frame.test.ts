// Event-stream frames: decoding of message and error frames, the non-canonical vs undecodable
// split of docs/design.md §4 item 10, Lexicon message parsing with its drop reasons, and the output
// frame whose seq is spliced in later (it must equal encoding the whole body at once).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BytesWrapper, encode } from '@atcute/cbor'
import { fromString, toCidLink } from '@atcute/cid'
import fc from 'fast-check'
import { concat, decodeFrame, encodeErrorFrame, encodeMessageFrame, FrameError } from './frame.ts'
import { MessageError, parseMessage } from './messages.ts'
import { frameWithSeq, prepareFrame, uintHead } from './output.ts'

const CID = toCidLink(fromString('bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454'))
const DID = 'did:plc:44ybard66vv44zksje25o7dz'
const TIME = '2025-04-16T21:30:26.717Z'

const commitBody = (over: Record<string, unknown> = {}) => ({
  seq: 5,
  rebase: false,
  tooBig: false,
  repo: DID,
  commit: CID,
  rev: '3lmxjza3nva27',
  since: null,
  blocks: new BytesWrapper(Uint8Array.of(1, 2, 3)),
  ops: [{ action: 'create', path: 'app.bsky.feed.like/3lmxjza3h2i27', cid: CID }],
  blobs: [],
  time: TIME,
  ...over,
})

function parse(type: string, body: Record<string, unknown>) {
  const frame = decodeFrame(encodeMessageFrame(type, body))
  assert.equal(frame.op, 1)
  if (frame.op !== 1) throw new Error('unreachable')
  return parseMessage(frame)
}

function reasonOf(fn: () => unknown): string {
  try {
    fn()
    return 'ok'
  } catch (err) {
    if (err instanceof MessageError) return err.reason
    if (err instanceof FrameError) return err.reason
    throw err
  }
}

describe('decodeFrame', () => {
  test('message frame', () => {
    const f = decodeFrame(encodeMessageFrame('#identity', { seq: 1, did: DID, time: TIME }))
    assert.deepEqual(f, { op: 1, type: '#identity', body: { seq: 1, did: DID, time: TIME } })
  })
  test('error frame', () => {
    assert.deepEqual(decodeFrame(encodeErrorFrame('FutureCursor', 'Cursor in the future.')), {
      op: -1,
      error: 'FutureCursor',
      message: 'Cursor in the future.',
    })
    assert.deepEqual(decodeFrame(encodeErrorFrame('ConsumerTooSlow')), {
      op: -1,
      error: 'ConsumerTooSlow',
      message: undefined,
    })
  })
  test('non-canonical but decodable: droppable with its seq so the cursor can move past it', () => {
    const header = encode({ op: 1, t: '#identity' })
    // body map {seq: 7, ...} with seq written as a non-minimal 1-byte integer (0x18 0x07)
    const body = encode({ seq: 7, did: DID, time: TIME })
    const seqAt = body.indexOf(0x07)
    const nonMinimal = concat(
      concat(body.subarray(0, seqAt), Uint8Array.of(0x18, 0x07)),
      body.subarray(seqAt + 1),
    )
    const err = catchFrameError(() => decodeFrame(concat(header, nonMinimal)))
    assert.deepEqual([err.code, err.reason, err.seq], ['droppable', 'non-canonical-cbor', 7])
  })
  test('unsorted keys are non-canonical', () => {
    // {op, t} in that order: "op" is longer than "t", so canonical order puts t first.
    const header = Uint8Array.from([
      0xa2,
      0x62,
      0x6f,
      0x70,
      0x01,
      0x61,
      0x74,
      0x69,
      ...new TextEncoder().encode('#identity'),
    ])
    const err = catchFrameError(() =>
      decodeFrame(concat(header, encode({ seq: 1, did: DID, time: TIME }))),
    )
    assert.deepEqual([err.code, err.reason, err.seq], ['droppable', 'non-canonical-cbor', 1])
  })
  test('strict-valid CBOR the decoder cannot hold (CID of another codec, integer past 2^53) is droppable, never a crash', () => {
    const header = encode({ op: 1, t: '#identity' })
    // {did, seq: 9, time, x: CID with codec 0x70 (dag-pb)} written by hand
    const cid = Uint8Array.from([
      0xd8,
      0x2a,
      0x58,
      0x25,
      0x00,
      0x01,
      0x70,
      0x12,
      0x20,
      ...new Uint8Array(32),
    ])
    const base = encode({ did: DID, seq: 9, time: TIME, x: 0 })
    const withCid = concat(base.subarray(0, base.length - 1), cid)
    const a = catchFrameError(() => decodeFrame(concat(header, withCid)))
    assert.deepEqual([a.code, a.reason, a.seq], ['droppable', 'non-canonical-cbor', 9])
    // seq = 2^60 (a valid 64-bit integer)
    const big = encode({ did: DID, seq: 1, time: TIME })
    const at = big.indexOf(0x01, big.indexOf(0x71)) // the seq value after the "seq" key
    const huge = concat(
      concat(big.subarray(0, at), Uint8Array.of(0x1b, 0x10, 0, 0, 0, 0, 0, 0, 0)),
      big.subarray(at + 1),
    )
    const b = catchFrameError(() => decodeFrame(concat(header, huge)))
    assert.deepEqual([b.code, b.reason, b.seq], ['droppable', 'non-canonical-cbor', undefined])
  })
  test('nesting past the strict limit: droppable with its seq up to 1024 levels, undecodable beyond, whatever the stack depth', () => {
    // {seq: 4, xxxx: [[[...1...]]]}: well-formed CBOR, too deep for the strict check. The lenient
    // reading that finds the seq once recursed per level and overflowed the call stack, which
    // made such a frame "undecodable" or droppable depending on how deep the caller already was;
    // then it followed any depth, which cost a second and hundreds of MB for a 5 MB frame.
    const frameOf = (depth: number) => {
      const prefix = encode({ seq: 4, xxxx: 0 })
      const body = new Uint8Array(prefix.length - 1 + depth + 1)
      body.set(prefix.subarray(0, prefix.length - 1))
      body.fill(0x81, prefix.length - 1, prefix.length - 1 + depth)
      body[body.length - 1] = 0x01
      return concat(encode({ op: 1, t: '#identity' }), body)
    }
    const shallow = catchFrameError(() => decodeFrame(frameOf(1000)))
    assert.deepEqual(
      [shallow.code, shallow.reason, shallow.seq],
      ['droppable', 'non-canonical-cbor', 4],
    )
    const deep = catchFrameError(() => decodeFrame(frameOf(4_900_000)))
    assert.deepEqual([deep.code, deep.reason], ['undecodable', 'undecodable-frame'])
    const depth = 1000
    const prefix = encode({ seq: 4, xxxx: 0 })
    const body = new Uint8Array(prefix.length - 1 + depth + 1)
    body.set(prefix.subarray(0, prefix.length - 1))
    body.fill(0x81, prefix.length - 1, prefix.length - 1 + depth)
    body[body.length - 1] = 0x01
    const frame = concat(encode({ op: 1, t: '#identity' }), body)
    const err = catchFrameError(() => decodeFrame(frame))
    assert.deepEqual([err.code, err.reason, err.seq], ['droppable', 'non-canonical-cbor', 4])
    // the same, called from a stack that is already deep
    const nested = (n: number): FrameError =>
      n === 0 ? catchFrameError(() => decodeFrame(frame)) : nested(n - 1)
    assert.equal(nested(5000).code, 'droppable')
    // and truncated inside the nesting: undecodable, without an overflow
    const cut = catchFrameError(() => decodeFrame(frame.subarray(0, frame.length - 1)))
    assert.deepEqual([cut.code, cut.reason], ['undecodable', 'undecodable-frame'])
  })
  test('a stray break in a definite-length map is undecodable', () => {
    // {t: "#x", op: <break>} then true: not well-formed CBOR, though cborg's decode tolerated it
    const bytes = Uint8Array.of(0xa2, 0x61, 0x74, 0x62, 0x23, 0x78, 0x62, 0x6f, 0x70, 0xff, 0xf5)
    assert.equal(catchFrameError(() => decodeFrame(bytes)).code, 'undecodable')
  })
  for (const [name, bytes] of [
    ['empty', new Uint8Array()],
    ['header only', encode({ op: 1, t: '#commit' })],
    [
      'truncated body',
      encodeMessageFrame('#identity', { seq: 1, did: DID, time: TIME }).subarray(0, 20),
    ],
    ['garbage', Uint8Array.of(0xff, 0xff, 0xff)],
  ] as const) {
    test(`undecodable: ${name}`, () => {
      const err = catchFrameError(() => decodeFrame(bytes))
      assert.deepEqual([err.code, err.reason], ['undecodable', 'undecodable-frame'])
    })
  }
  for (const [name, bytes, reason] of [
    ['header not a map', concat(encode([1]), encode({ seq: 1 })), 'invalid-message'],
    ['body not a map', concat(encode({ op: 1, t: '#identity' }), encode([1])), 'invalid-message'],
    ['unknown op', concat(encode({ op: 2 }), encode({ seq: 1 })), 'unknown-type'],
    ['message without type', concat(encode({ op: 1 }), encode({ seq: 1 })), 'invalid-message'],
    [
      'error frame without a name',
      concat(encode({ op: -1 }), encode({ message: 'x' })),
      'invalid-message',
    ],
    [
      'trailing bytes after the body',
      concat(encodeMessageFrame('#identity', { seq: 3, did: DID, time: TIME }), Uint8Array.of(0)),
      'non-canonical-cbor',
    ],
  ] as const) {
    test(`decodes but is dropped: ${name} → ${reason}`, () => {
      const err = catchFrameError(() => decodeFrame(bytes))
      assert.deepEqual([err.code, err.reason], ['droppable', reason])
    })
  }
})

function catchFrameError(fn: () => unknown): FrameError {
  try {
    fn()
  } catch (err) {
    if (err instanceof FrameError) return err
    throw err
  }
  assert.fail('expected a FrameError')
}

describe('parseMessage', () => {
  test('#commit with defaults: blobs null → [], since absent → null, unknown fields ignored', () => {
    const m = parse('#commit', { ...commitBody({ blobs: null, extra: 'x' }), since: undefined })
    assert.equal(m.type, '#commit')
    if (m.type !== '#commit') return
    assert.deepEqual(m.blobs, [])
    assert.equal(m.since, null)
    assert.equal('extra' in m, false)
    assert.deepEqual(m.blocks, Uint8Array.of(1, 2, 3))
  })
  test('#account, #identity, #sync, #info', () => {
    assert.deepEqual(
      parse('#account', { seq: 2, did: DID, active: false, status: 'deactivated', time: TIME }),
      {
        type: '#account',
        seq: 2,
        did: DID,
        active: false,
        status: 'deactivated',
        time: TIME,
      },
    )
    assert.deepEqual(parse('#identity', { seq: 2, did: DID, time: TIME, handle: 'Not A Handle' }), {
      type: '#identity',
      seq: 2,
      did: DID,
      time: TIME,
    })
    assert.equal(
      parse('#sync', {
        seq: 2,
        did: DID,
        rev: '3lmxjza3nva27',
        blocks: new BytesWrapper(new Uint8Array(1)),
        time: TIME,
      }).type,
      '#sync',
    )
    assert.deepEqual(parse('#info', { name: 'OutdatedCursor' }), {
      type: '#info',
      name: 'OutdatedCursor',
    })
  })
  for (const t of ['#handle', '#migrate', '#tombstone']) {
    test(`legacy ${t} → legacy-type, with its seq`, () => {
      try {
        parse(t, { seq: 9, did: DID })
        assert.fail('expected a drop')
      } catch (err) {
        assert.ok(err instanceof MessageError)
        assert.equal(err.reason, 'legacy-type')
        assert.equal(err.seq, 9)
      }
    })
  }
  test('unknown type → unknown-type', () =>
    assert.equal(
      reasonOf(() => parse('#whatever', { seq: 1 })),
      'unknown-type',
    ))
  const bad: [string, string, Record<string, unknown>][] = [
    ['#commit', 'no seq', commitBody({ seq: undefined })],
    ['#commit', 'negative seq', commitBody({ seq: -1 })],
    ['#commit', 'bad repo DID', commitBody({ repo: 'not-a-did' })],
    ['#commit', 'bad rev', commitBody({ rev: 'nope' })],
    ['#commit', 'bad since', commitBody({ since: 'nope' })],
    ['#commit', 'commit not a link', commitBody({ commit: 'bafy' })],
    ['#commit', 'blocks not bytes', commitBody({ blocks: 'abc' })],
    ['#commit', 'ops not an array', commitBody({ ops: {} })],
    [
      '#commit',
      'bad op action',
      commitBody({ ops: [{ action: 'upsert', path: 'a.b.c/x', cid: CID }] }),
    ],
    ['#commit', 'bad op path', commitBody({ ops: [{ action: 'create', path: 'nope', cid: CID }] })],
    [
      '#commit',
      'create without cid',
      commitBody({ ops: [{ action: 'create', path: 'a.b.c/x', cid: null }] }),
    ],
    [
      '#commit',
      'delete with cid',
      commitBody({ ops: [{ action: 'delete', path: 'a.b.c/x', cid: CID }] }),
    ],
    ['#commit', 'blobs not links', commitBody({ blobs: ['x'] })],
    ['#commit', 'prevData not a link', commitBody({ prevData: 'x' })],
    ['#commit', 'bad time', commitBody({ time: 'yesterday' })],
    ['#commit', 'tooBig not a boolean', commitBody({ tooBig: 'no' })],
    ['#account', 'active missing', { seq: 1, did: DID, time: TIME }],
    ['#account', 'status not a string', { seq: 1, did: DID, time: TIME, active: false, status: 3 }],
    ['#identity', 'bad did', { seq: 1, did: 'did:', time: TIME }],
    ['#sync', 'no blocks', { seq: 1, did: DID, rev: '3lmxjza3nva27', time: TIME }],
    ['#info', 'no name', { message: 'x' }],
  ]
  for (const [t, name, body] of bad) {
    test(`${t} ${name} → invalid-message`, () =>
      assert.equal(
        reasonOf(() => parse(t, body)),
        'invalid-message',
      ))
  }
})

describe('output frames with a spliced seq', () => {
  test('uintHead gives the shortest encoding at every width boundary', () => {
    for (const n of [
      0,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
    ]) {
      assert.deepEqual(uintHead(0, n), encode(n), String(n))
    }
  })
  test('equals encoding the whole body, for any seq and body keys', () => {
    const keyArb = fc
      .string({ minLength: 1, maxLength: 10 })
      .filter((k) => k !== 'seq' && k !== '__proto__')
    fc.assert(
      fc.property(
        fc.dictionary(keyArb, fc.oneof(fc.integer(), fc.string(), fc.boolean()), { maxKeys: 30 }),
        fc.maxSafeNat(),
        (dict, seq) => {
          const body = { ...dict } // fast-check builds null-prototype objects
          const expected = encodeMessageFrame('#commit', { ...body, seq })
          assert.deepEqual(frameWithSeq(prepareFrame('#commit', body), seq), expected)
        },
      ),
      { numRuns: 300 },
    )
  })
  test('a body that already has a seq is refused', () => {
    assert.throws(() => prepareFrame('#identity', { seq: 1 }), TypeError)
  })
})

test('bytes that are not DAG-CBOR and read leniently without a map body are undecodable', () => {
  // "this is not cbor…" reads leniently as text strings; 0x01 0x02 0x03 as integers (the trailing
  // third item is what makes them non-canonical).
  for (const bytes of [
    new TextEncoder().encode('this is not cbor at all, it is a sentence'),
    Uint8Array.of(0x01, 0x02, 0x03),
  ]) {
    const err = catchFrameError(() => decodeFrame(bytes))
    assert.deepEqual([err.code, err.reason], ['undecodable', 'undecodable-frame'])
  }
})
