// The canonical byte layout of an MST node block, read and written in place (repository spec,
// "Merkle Search Tree"; DAG-CBOR): {"e": [{"k": bytes, "p": uint, "t": null | link, "v": link}
// ...], "l": null | link}, keys in DAG-CBOR order, shortest-form heads, every link a tag 42 over
// 0x00 and a 36-byte CIDv1 dag-cbor sha-256 (the only kind an MST holds). Verification parses
// ~4 nodes and re-encodes ~4 per commit, which was a fifth of a verify worker's time; in place,
// parsing a node takes a third less time (checks included) and writing one a third less
// (BENCHMARKS.md, session 7).
// A node whose keys stay as read and only its links change (an inversion's changed subtree, an
// updated value) is written by copying its block and putting the new links where the old ones
// were: no key is written again.
// Reading gives up (undefined) at the first byte that differs from the layout, and writing (null)
// on anything it does not write so; the caller then uses the general decoder or encoder, which
// accepts or refuses whatever the bytes hold. So this file never decides that a node is invalid.
// Deliberately not here: the MST rules (key order, compression, heights, bounds: mst.ts checks
// them, through the callback, on what this reads).
import { type CidLink, CidLinkWrapper } from '@atcute/cbor'

/** Length of the common prefix of two strings, in UTF-16 code units (keys are ASCII). */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

const MAP_2 = 0xa2
const MAP_4 = 0xa4
const KEY_E = [0x61, 0x65] as const
const KEY_L = [0x61, 0x6c] as const
const KEY_K = [0x61, 0x6b] as const
const KEY_P = [0x61, 0x70] as const
const KEY_T = [0x61, 0x74] as const
const KEY_V = [0x61, 0x76] as const
const NULL = 0xf6
/** Tag 42, a 37-byte byte string, then 0x00 and the CID's head: v1, dag-cbor, sha-256, 32 bytes. */
const LINK_HEAD = [0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20] as const
/** Tag 42, byte string head, 0x00: what precedes the 36 CID bytes. */
const LINK_PREFIX = Uint8Array.from(LINK_HEAD.slice(0, 5))
const LINK_BYTES = 41
/** The smallest an entry can be: map head, four keys, an empty suffix, p, null and a link. */
const MIN_ENTRY_BYTES = 1 + 4 * 2 + 1 + 1 + 1 + LINK_BYTES

/**
 * Takes one entry as read: its index, prefix length, where its key suffix lies in the block
 * (`block[start]` on, `length` bytes: offsets rather than a view, as a view per key was a
 * measurable share of reading a node), value and subtree. Returns false to stop reading (the
 * caller reads the node the general way). It must not read or write another node with this
 * file: the position is module state.
 */
export type OnEntry = (
  i: number,
  p: number,
  block: Uint8Array,
  start: number,
  length: number,
  value: CidLink,
  right: CidLink | null,
) => boolean

// Where the reading (or relinking) is: module state, safe since both are synchronous.
let at = 0

function expect(b: Uint8Array, bytes: readonly number[]): boolean {
  for (let i = 0; i < bytes.length; i++) if (b[at + i] !== bytes[i]) return false
  at += bytes.length
  return true
}

/** A shortest-form argument of major type `major`, up to 65,535; -1 for anything else. */
function argument(b: Uint8Array, major: number): number {
  const initial = b[at]
  if (initial === undefined || initial >> 5 !== major) return -1
  const info = initial & 0x1f
  if (info < 24) {
    at += 1
    return info
  }
  if (info === 24 && at + 1 < b.length && b[at + 1]! >= 24) {
    at += 2
    return b[at - 1]!
  }
  if (info === 25 && at + 2 < b.length && b[at + 1]! > 0) {
    at += 3
    return (b[at - 2]! << 8) | b[at - 1]!
  }
  return -1
}

/** A link, or null for CBOR null; undefined when neither is there. */
function link(b: Uint8Array): CidLink | null | undefined {
  if (b[at] === NULL) {
    at++
    return null
  }
  if (at + LINK_BYTES > b.length || !expect(b, LINK_HEAD)) return undefined
  // The CID without the multibase prefix, as the decoder's link holds it: a view of the block.
  const cid = new CidLinkWrapper(b.subarray(at - 4, at + 32))
  at += 32
  return cid
}

/**
 * Reads a node in the canonical layout, handing each entry to `onEntry` in order; returns its
 * `l` link (null for none), or undefined when the bytes are not in the layout or `onEntry`
 * stopped. Throws only what `onEntry` throws.
 */
export function readCanonicalNode(b: Uint8Array, onEntry: OnEntry): CidLink | null | undefined {
  at = 0
  if (b[at++] !== MAP_2 || !expect(b, KEY_E)) return undefined
  const n = argument(b, 4)
  if (n < 0 || b.length < at + n * MIN_ENTRY_BYTES) return undefined
  for (let i = 0; i < n; i++) {
    if (b[at++] !== MAP_4 || !expect(b, KEY_K)) return undefined
    const length = argument(b, 2)
    if (length < 0 || at + length > b.length) return undefined
    const start = at
    at += length
    if (!expect(b, KEY_P)) return undefined
    const p = argument(b, 0)
    if (p < 0 || !expect(b, KEY_T)) return undefined
    const right = link(b)
    if (right === undefined || !expect(b, KEY_V)) return undefined
    const value = link(b)
    if (!value || !onEntry(i, p, b, start, length, value, right)) return undefined
  }
  if (!expect(b, KEY_L)) return undefined
  const left = link(b)
  return left === undefined || at !== b.length ? undefined : left
}

/** A link's 36 CID bytes when it is the kind written in place, else null. */
function linkBytes(link: CidLink): Uint8Array | null {
  if (!(link instanceof CidLinkWrapper)) return null
  const b = link.bytes
  return b.length === 36 && b[0] === 0x01 && b[1] === 0x71 && b[2] === 0x12 && b[3] === 0x20
    ? b
    : null
}

/** Bytes of a shortest-form head with argument `n` (< 65,536). */
const headSize = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : 3)

function writeHead(out: Uint8Array, pos: number, major: number, n: number): number {
  if (n < 24) {
    out[pos] = (major << 5) | n
    return pos + 1
  }
  if (n < 0x100) {
    out[pos] = (major << 5) | 24
    out[pos + 1] = n
    return pos + 2
  }
  out[pos] = (major << 5) | 25
  out[pos + 1] = n >> 8
  out[pos + 2] = n & 0xff
  return pos + 3
}

function writeLink(out: Uint8Array, pos: number, cid: Uint8Array | null): number {
  if (cid === null) {
    out[pos] = NULL
    return pos + 1
  }
  out.set(LINK_PREFIX, pos)
  out.set(cid, pos + LINK_PREFIX.length)
  return pos + LINK_BYTES
}

function writeKey(out: Uint8Array, pos: number, key: readonly number[]): number {
  out[pos] = key[0]!
  out[pos + 1] = key[1]!
  return pos + 2
}

interface Entry {
  readonly key: string
  readonly value: CidLink
  readonly right: CidLink | null
}

// The buffer nodes are written into when only their hash is wanted (the inversion hashes every
// node it changes and keeps none): a new buffer per node was a third of writing one.
let scratch = new Uint8Array(2048)
/** The reused buffer grows to this at most: a larger node (real ones are a few hundred bytes)
 * gets a buffer of its own, so that one hostile node cannot leave a thread holding its size. */
export const SCRATCH_LIMIT = 64 * 1024

/** The first `size` bytes of the reused buffer, grown if need be, or a new buffer past the limit. */
function scratchView(size: number): Uint8Array {
  if (size > SCRATCH_LIMIT) return new Uint8Array(size)
  if (scratch.length < size) {
    scratch = new Uint8Array(Math.min(Math.max(size, scratch.length * 2), SCRATCH_LIMIT))
  }
  return scratch.subarray(0, size)
}

/**
 * The canonical block of a node whose entries are in ascending order, each key compressed
 * against the previous one, as a view of a buffer this file reuses: valid until the next node
 * is written here, so hash or copy it first. Null when a link is not a dag-cbor sha-256 CID held
 * as bytes, a key is not ASCII or is 65,536 characters or longer (the general encoder then
 * writes or refuses it). With `read`, the block the node was read from while its keys are still
 * those (only links changed), that block is copied and its links replaced
 * (`relinkCanonicalNode`) instead of writing every key again.
 */
export function transientCanonicalNode(
  left: CidLink | null,
  entries: readonly Entry[],
  read: Uint8Array | null,
): Uint8Array | null {
  return (read && relinkCanonicalNode(read, left, entries)) ?? writeNode(left, entries)
}

function writeNode(left: CidLink | null, entries: readonly Entry[]): Uint8Array | null {
  const n = entries.length
  const l = left === null ? null : linkBytes(left)
  if (n >= 0x10000 || (left !== null && l === null)) return null
  const values: Uint8Array[] = []
  const rights: (Uint8Array | null)[] = []
  const prefixes: number[] = []
  let size = 1 + 2 + headSize(n) + 2 + (l === null ? 1 : LINK_BYTES)
  let prev = ''
  for (const { key, value, right } of entries) {
    const v = linkBytes(value)
    const t = right === null ? null : linkBytes(right)
    if (v === null || (right !== null && t === null) || key.length >= 0x10000) return null
    const p = commonPrefixLength(prev, key)
    const suffix = key.length - p
    size += 1 + 2 + headSize(suffix) + suffix + 2 + headSize(p)
    size += 2 + (t === null ? 1 : LINK_BYTES) + 2 + LINK_BYTES
    values.push(v)
    rights.push(t)
    prefixes.push(p)
    prev = key
  }
  const out = scratchView(size)
  out[0] = MAP_2
  let pos = writeKey(out, 1, KEY_E)
  pos = writeHead(out, pos, 4, n)
  for (let i = 0; i < n; i++) {
    const key = entries[i]!.key
    const p = prefixes[i]!
    out[pos] = MAP_4
    pos = writeKey(out, pos + 1, KEY_K)
    pos = writeHead(out, pos, 2, key.length - p)
    for (let j = p; j < key.length; j++) {
      const c = key.charCodeAt(j)
      if (c >= 0x80) return null
      out[pos++] = c
    }
    pos = writeKey(out, pos, KEY_P)
    pos = writeHead(out, pos, 0, p)
    pos = writeKey(out, pos, KEY_T)
    pos = writeLink(out, pos, rights[i]!)
    pos = writeKey(out, pos, KEY_V)
    pos = writeLink(out, pos, values[i]!)
  }
  pos = writeKey(out, pos, KEY_L)
  writeLink(out, pos, l)
  return out
}

/** Puts `to` over the link or null at the reading position; false when one is a link and the
 * other not, or the link is not the kind written in place. */
function relink(out: Uint8Array, to: CidLink | null): boolean {
  if (out[at] === NULL) {
    at++
    return to === null
  }
  if (to === null || at + LINK_BYTES > out.length || !expect(out, LINK_HEAD)) return false
  const bytes = linkBytes(to)
  if (bytes === null) return false
  out.set(bytes, at - 4)
  at += 32
  return true
}

/**
 * The block of the node read from `block` with its keys unchanged and these links: `left`, and
 * each entry's value and subtree, in order: `block` copied into the reused buffer, with the
 * links put in place of the old ones. Null when `block` is not in the canonical layout, has
 * another number of entries, or has a link where the node has none (or the reverse: either
 * moves the bytes after it), or a link is not the kind written in place; the caller then writes
 * the node whole. The caller vouches that the keys are the block's.
 */
function relinkCanonicalNode(
  block: Uint8Array,
  left: CidLink | null,
  entries: readonly Pick<Entry, 'value' | 'right'>[],
): Uint8Array | null {
  // Written into a copy: the block stays as it was read.
  const out = scratchView(block.length)
  out.set(block)
  at = 0
  if (out[at++] !== MAP_2 || !expect(out, KEY_E)) return null
  if (argument(out, 4) !== entries.length) return null
  for (const { value, right } of entries) {
    if (out[at++] !== MAP_4 || !expect(out, KEY_K)) return null
    const length = argument(out, 2)
    if (length < 0) return null
    at += length
    if (!expect(out, KEY_P) || argument(out, 0) < 0 || !expect(out, KEY_T)) return null
    if (!relink(out, right) || !expect(out, KEY_V) || !relink(out, value)) return null
  }
  if (!expect(out, KEY_L) || !relink(out, left)) return null
  return at === out.length ? out : null
}
