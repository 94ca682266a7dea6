// Conformance: the atproto interop MST vectors (fixtures/interop/mst/): key heights (the number of
// leading zero bit-pairs of sha-256(key), repository spec "Merkle Search Tree"), the common prefix
// lengths used by prefix compression, and the example keys (all valid repo paths). Plus node
// checks: real nodes from a commit-proof tree parse; each broken rule is reported.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { encode } from '@atcute/cbor'
import { fromString, toCidLink } from '@atcute/cid'
import { MemoryBlockStore, NodeStore, NodeWrangler } from '@atcute/mst'
import { fixturePath, readFixtureJson } from '../../test/support/fixtures.ts'
import {
  commonPrefixLength,
  isValidMstKey,
  MstNodeError,
  mstKeyHeight,
  parseMstNode,
} from './mst.ts'

const LEAF = toCidLink(fromString('bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454'))

describe('key_heights.json', () => {
  const cases = readFixtureJson<{ key: string; height: number }[]>('interop/mst/key_heights.json')
  assert.ok(cases.length > 0)
  for (const c of cases) {
    test(`height of "${c.key}" is ${c.height}`, () => assert.equal(mstKeyHeight(c.key), c.height))
  }
})

describe('common_prefix.json', () => {
  const cases = readFixtureJson<{ left: string; right: string; len: number }[]>(
    'interop/mst/common_prefix.json',
  )
  assert.ok(cases.length > 0)
  for (const c of cases) {
    test(`common prefix of ${JSON.stringify(c.left)} and ${JSON.stringify(c.right)}`, () =>
      assert.equal(commonPrefixLength(c.left, c.right), c.len))
  }
})

test('example_keys.txt: every key is a valid MST key and builds a tree whose nodes all parse', async () => {
  const keys = readFileSync(fixturePath('interop/mst/example_keys.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
  assert.equal(keys.length, 156)
  const store = new MemoryBlockStore()
  const wrangler = new NodeWrangler(new NodeStore(store))
  let root: string | null = null
  for (const key of keys) {
    assert.ok(isValidMstKey(key), key)
    root = await wrangler.putRecord(root, key, LEAF)
  }
  // Walk the whole tree from the root with bounds and heights, as a verifier would.
  const seen: string[] = []
  const walk = async (cid: string, after?: string, before?: string, height?: number) => {
    const bytes = await store.get(cid)
    assert.ok(bytes)
    const node = parseMstNode(bytes, { after, before, height })
    // A tree built by @atcute/mst is canonical DAG-CBOR, so every node is read in place: a
    // reader that fell back to the general decoder would still answer right, only slower.
    assert.equal(node.canonical, true, `node ${cid} was not read in the canonical layout`)
    const h = node.height ?? height
    let lo = after
    const children: [string | undefined, string | undefined, string | undefined][] = []
    children.push([node.left?.$link, lo, node.entries[0]?.key ?? before])
    node.entries.forEach((e, i) => {
      seen.push(e.key)
      lo = e.key
      children.push([e.right?.$link, lo, node.entries[i + 1]?.key ?? before])
    })
    for (const [child, a, b] of children)
      if (child) await walk(child, a, b, h === undefined ? undefined : h - 1)
  }
  await walk(root!)
  assert.deepEqual(seen.sort(), [...keys].sort())
})

describe('isValidMstKey', () => {
  for (const bad of [
    '',
    'a',
    'ab',
    '/abc',
    'abc/',
    'a/b/c',
    'app.bsky.feed.post/ab cd',
    'coll/é',
    `a/${'x'.repeat(1100)}`,
  ]) {
    test(`rejects ${JSON.stringify(bad.slice(0, 30))}`, () =>
      assert.equal(isValidMstKey(bad), false))
  }
})

describe('parseMstNode rejects broken nodes', () => {
  const key = (s: string) => new TextEncoder().encode(s)
  const entry = (p: number, k: string) => ({
    p,
    k: { $bytes: Buffer.from(key(k)).toString('base64').replace(/=+$/, '') },
    v: LEAF,
    t: null,
  })
  const node = (e: unknown[], extra: Record<string, unknown> = {}) =>
    encode({ l: null, e, ...extra })
  // Two keys of the same height (0), so that each node below breaks only the rule it names.
  const a = 'com.example/aab'
  const b = 'com.example/aac'
  test('the two keys have the same height', () => {
    assert.equal(mstKeyHeight(a), 0)
    assert.equal(mstKeyHeight(b), 0)
  })
  const cases: [string, Uint8Array, RegExp][] = [
    ['not a map', encode([1]), /not a map/],
    ['an extra field', node([], { x: 1 }), /exactly l and e/],
    ['first entry with a prefix', node([entry(1, a)]), /invalid prefix length/],
    [
      'prefix longer than the previous key',
      node([entry(0, a), entry(99, 'b')]),
      /invalid prefix length/,
    ],
    ['prefix compression not exact', node([entry(0, a), entry(0, b)]), /not exact/],
    ['prefix compression not exact, later', node([entry(0, a), entry(12, 'ac')]), /not exact/],
    ['keys out of order', node([entry(0, b), entry(14, 'b')]), /not after the previous key/],
    ['duplicate key', node([entry(0, a), entry(15, '')]), /not after the previous key/],
    ['invalid key', node([entry(0, 'no-slash')]), /not a valid repo path/],
    // A UTF-8 decoder drops a leading byte order mark unless told not to: the key would then read
    // as a valid key while its height is hashed from other bytes (or two blocks read the same).
    ['a key starting with a byte order mark', node([entry(0, `\uFEFF${a}`)]), /not a valid/],
    [
      'a suffix starting with a byte order mark',
      node([entry(0, a), entry(12, '\uFEFFb')]),
      /not a valid repo path/,
    ],
  ]
  for (const [name, bytes, why] of cases) {
    test(name, () =>
      assert.throws(
        () => parseMstNode(bytes),
        (err) => err instanceof MstNodeError && why.test(err.message),
      ),
    )
  }
  test('key outside the bounds the parent implies', () => {
    const bytes = node([entry(0, a)])
    const h = mstKeyHeight(a)
    assert.doesNotThrow(() => parseMstNode(bytes, { height: h }))
    assert.throws(() => parseMstNode(bytes, { after: b }), MstNodeError)
    assert.throws(() => parseMstNode(bytes, { before: a }), MstNodeError)
    assert.throws(() => parseMstNode(bytes, { height: h + 1 }), MstNodeError)
  })
  test('keys of different heights in one node', () => {
    const keys = Array.from({ length: 200 }, (_, i) => `com.example/k${String(i).padStart(4, '0')}`)
    const h0 = keys.find((k) => mstKeyHeight(k) === 0)!
    const h1 = keys.find((k) => k > h0 && mstKeyHeight(k) > 0)!
    const bytes = node([
      entry(0, h0),
      entry(commonPrefixLength(h0, h1), h1.slice(commonPrefixLength(h0, h1))),
    ])
    assert.throws(() => parseMstNode(bytes), /height/)
  })
})
