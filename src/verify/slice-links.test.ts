// SliceLinks answers exactly as a lookup of the link's CID string in the block map would, for
// decoded (binary) links and plain `{ $link }` ones, including CIDs that share the indexed digest
// bits (same digest, another codec) and block maps with keys it cannot index.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { type CidLink, CidLinkWrapper } from '@atcute/cbor'
import { toString as cidToString, decode as decodeCid } from '@atcute/cid'
import fc from 'fast-check'
import { SliceLinks } from './slice-links.ts'

const cidBytes = (codec: number, digest: Uint8Array) => {
  const b = new Uint8Array(36)
  b.set([0x01, codec, 0x12, 0x20])
  b.set(digest, 4)
  return b
}
const str = (bytes: Uint8Array) => cidToString(decodeCid(bytes))
const expected = (blocks: ReadonlyMap<string, Uint8Array>, link: CidLink) =>
  blocks.has(link.$link) ? link.$link : undefined

test('answers like the block map, for binary and string links', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (digests, picks) => {
        const present = digests.filter((_, i) => i % 2 === 0)
        const blocks = new Map(present.map((d) => [str(cidBytes(0x71, d)), new Uint8Array()]))
        const links = new SliceLinks(blocks)
        const probes = [...digests, ...picks.map(() => new Uint8Array(randomBytes(32)))]
        for (const d of probes) {
          for (const codec of [0x71, 0x55]) {
            const bytes = cidBytes(codec, d)
            const binary = new CidLinkWrapper(bytes)
            assert.equal(links.find(binary), expected(blocks, binary))
            const plain = { $link: str(bytes) }
            assert.equal(links.find(plain), expected(blocks, plain))
          }
        }
      },
    ),
    { numRuns: 200 },
  )
})

test('two blocks with the same digest bits (another codec) are both found', () => {
  const digest = new Uint8Array(randomBytes(32))
  const cbor = cidBytes(0x71, digest)
  const raw = cidBytes(0x55, digest)
  const blocks = new Map([
    [str(cbor), new Uint8Array()],
    [str(raw), new Uint8Array()],
  ])
  const links = new SliceLinks(blocks)
  assert.equal(links.find(new CidLinkWrapper(cbor)), str(cbor))
  assert.equal(links.find(new CidLinkWrapper(raw)), str(raw))
  const other = cidBytes(0x71, new Uint8Array(randomBytes(32)))
  assert.equal(links.find(new CidLinkWrapper(other)), undefined)
})

test('a block map with a key it cannot index falls back to strings', () => {
  const digest = new Uint8Array(randomBytes(32))
  const cbor = cidBytes(0x71, digest)
  const blocks = new Map([
    ['not-a-cid', new Uint8Array()],
    [str(cbor), new Uint8Array()],
  ])
  const links = new SliceLinks(blocks)
  assert.equal(links.find(new CidLinkWrapper(cbor)), str(cbor))
  assert.equal(links.find({ $link: 'not-a-cid' }), 'not-a-cid')
})
