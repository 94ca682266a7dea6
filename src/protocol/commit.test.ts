// The signed commit block's own rules (atproto repository spec: a commit object is DAG-CBOR with
// `sig` a byte string). In CBOR a {"$bytes": "…"} map is a map, not bytes.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encode, toBytes } from '@atcute/cbor'
import { cidStringForDagCbor } from './cid.ts'
import { CommitFormatError, parseCommit } from './commit.ts'

const commit = (sig: unknown): Record<string, unknown> => ({
  did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz',
  version: 3,
  data: { $link: cidStringForDagCbor(Uint8Array.of(0xa0)) },
  rev: '3laaaaaaaaaab',
  prev: null,
  sig,
})

describe('parseCommit', () => {
  it('takes sig as bytes, and refuses a {$bytes} map in its place', () => {
    const ok = parseCommit(encode(commit(toBytes(new Uint8Array(64)))))
    assert.equal(ok.sig.length, 64)
    // Encoded with a key of the same length, then renamed: CBOR gets a map {"$bytes": "…"}.
    const raw = Buffer.from(encode(commit({ $bytez: 'AAAA' })))
    raw.write('$bytes', raw.indexOf('$bytez'))
    assert.throws(
      () => parseCommit(raw),
      (err: unknown) => err instanceof CommitFormatError && /sig is not bytes/.test(err.message),
    )
  })
})
