// Cost of the strict DAG-CBOR check on a firehose-like #commit body, against decoding the same
// bytes with @atcute/cbor; and the JS vs native UTF-8 validation that sets NATIVE_UTF8_MIN_LENGTH.
import { isUtf8 } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { BytesWrapper, CidLinkWrapper, decode, encode } from '@atcute/cbor'
import { fromDigest } from '@atcute/cid'
import { measure, note } from '../../../bench/harness.ts'
import { decodeStrict } from './data-model.ts'
import { checkDagCbor } from './strict.ts'
import { isValidUtf8, isValidUtf8Js } from './utf8.ts'

const link = () => new CidLinkWrapper(fromDigest(0x71, randomBytes(32)).bytes)

const ops = Array.from({ length: 4 }, (_, i) => ({
  action: i === 3 ? 'delete' : 'create',
  path: `app.bsky.feed.like/3l${i}xyzabc2k2c`,
  cid: i === 3 ? null : link(),
  prev: i === 0 ? link() : null,
}))
const body = {
  ops,
  rev: '3lqgs4vzqtc2x',
  seq: 7_654_321_098,
  repo: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz',
  time: '2026-11-24T23:50:24.123Z',
  blobs: [],
  since: '3lqgs4ut3ak2x',
  blocks: new BytesWrapper(randomBytes(2500)),
  commit: link(),
  rebase: false,
  tooBig: false,
  prevData: link(),
}
const bytes = encode(body)
const header = encode({ op: 1, t: '#commit' })
const mb = bytes.length / 1e6

note(`#commit-like body: ${bytes.length} bytes (${header.length}-byte header not included)`)
const check = measure('checkDagCbor, ~3 KB commit body', () => checkDagCbor(bytes))
const dec = measure('@atcute/cbor decode, same bytes', () => decode(bytes))
const strict = measure('decodeStrict (check + decode), same bytes', () => decodeStrict(bytes))
note(
  `checkDagCbor ${(mb * check.perSecond).toFixed(0)} MB/s, decode ${(mb * dec.perSecond).toFixed(0)} MB/s`,
)
note(`check costs ${((100 * check.microsPerOp) / dec.microsPerOp).toFixed(0)}% of a decode`)
note(`decodeStrict costs ${(strict.microsPerOp / dec.microsPerOp).toFixed(2)}x a plain decode`)

// A record-heavy shape: many short keys and strings, no big byte string.
const post = {
  $type: 'app.bsky.feed.post',
  text: 'Ünïcödé text with emoji 😀 and some more words to make it realistic for a post body.',
  langs: ['en'],
  facets: Array.from({ length: 6 }, (_, i) => ({
    index: { byteStart: i * 10, byteEnd: i * 10 + 8 },
    features: [{ $type: 'app.bsky.richtext.facet#link', uri: `https://example.com/${i}` }],
  })),
  createdAt: '2026-11-24T23:50:24.123Z',
}
const postBytes = encode(post)
const postCheck = measure(`checkDagCbor, ${postBytes.length}-byte post record`, () =>
  checkDagCbor(postBytes),
)
const postDec = measure('@atcute/cbor decode, same bytes', () => decode(postBytes))
note(`check costs ${((100 * postCheck.microsPerOp) / postDec.microsPerOp).toFixed(0)}% of a decode`)

// Dense input: ~1 MB of small map entries (no big byte strings to skip over).
const dense = encode(
  Array.from({ length: 20_000 }, (_, i) => ({ k: i, path: `app.bsky.feed.like/${i}`, ok: true })),
)
const denseCheck = measure(
  `checkDagCbor, ${(dense.length / 1e6).toFixed(1)} MB of small items`,
  () => checkDagCbor(dense),
)
const denseDec = measure('@atcute/cbor decode, same bytes', () => decode(dense))
note(
  `dense: check ${((dense.length / 1e6) * denseCheck.perSecond).toFixed(0)} MB/s, decode ${((dense.length / 1e6) * denseDec.perSecond).toFixed(0)} MB/s`,
)

// UTF-8 validation of one string inside a larger buffer: JS loop vs node:buffer isUtf8 vs the
// mix isValidUtf8 uses (shorter runs, many cases).
const quick = { minMs: 400, warmupMs: 100 }
const sink = { ok: true }
for (const [label, text] of [
  ['ascii', 'abcdefghijklmnopqrstuvwxyz0123456789'],
  ['mixed', 'añb€c😀'],
] as const) {
  for (const length of [8, 24, 32, 64, 128, 256]) {
    let s = ''
    for (const ch of text.repeat(length)) {
      if (Buffer.byteLength(s + ch) > length) break
      s += ch
    }
    const encoded = new TextEncoder().encode(s)
    const buf = new Uint8Array(encoded.length + 16)
    buf.set(encoded, 8)
    const end = 8 + encoded.length
    const js = measure(
      `utf-8 ${label} ${encoded.length} B, JS loop`,
      () => {
        sink.ok = isValidUtf8Js(buf, 8, end)
      },
      quick,
    )
    const native = measure(
      `utf-8 ${label} ${encoded.length} B, isUtf8(subarray)`,
      () => {
        sink.ok = isUtf8(buf.subarray(8, end))
      },
      quick,
    )
    const chosen = measure(
      `utf-8 ${label} ${encoded.length} B, isValidUtf8 (as used)`,
      () => {
        sink.ok = isValidUtf8(buf, 8, end)
      },
      quick,
    )
    const best = Math.min(js.microsPerOp, native.microsPerOp)
    note(
      `native/JS time ${(native.microsPerOp / js.microsPerOp).toFixed(2)}, used/best ${(chosen.microsPerOp / best).toFixed(2)}`,
    )
  }
}
