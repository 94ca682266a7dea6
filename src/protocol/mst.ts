// Merkle Search Tree nodes (repository spec, "Merkle Search Tree"). Checks a node block's shape
// (`l`: CID link or null; `e`: entries of `p` prefix length, `k` key suffix bytes, `v` value CID,
// `t` subtree CID or null), that prefix compression is exact (first entry `p` = 0, `p` never past
// the previous key, and no longer shared prefix left unused), that keys are valid repo paths in
// strictly ascending byte order, that all keys of a node have the same height, and, given the
// bounds a parent implies, that every key lies within them. Encodes nodes canonically.
// Deliberately not checked here: that subtree CIDs resolve, or that a child's height is one less
// than its parent's (that needs the child block); verify/ walks the tree. Nor canonical DAG-CBOR
// (cbor/strict.ts) in general: a node in the canonical layout is read in place (mst-layout.ts
// accepts only canonical bytes, and the node says so: `canonical`); any other is decoded
// leniently and its structure checked.
// Key height is computed synchronously with node:crypto (sha-256, leading zero bits / 2).

import { hash } from 'node:crypto'
import { BytesWrapper, type CidLink, CidLinkWrapper, decode, encode } from '@atcute/cbor'
import { isDecodedBytes } from './cbor/decoded.ts'
import { MAX_REPO_PATH_LENGTH } from './limits.ts'
import { commonPrefixLength, readCanonicalNode, transientCanonicalNode } from './mst-layout.ts'

export { commonPrefixLength } from './mst-layout.ts'

export interface MstEntry {
  readonly key: string
  readonly value: CidLink
  /** Subtree holding the keys between this entry and the next. */
  readonly right: CidLink | null
}

export interface MstNode {
  /** Subtree holding the keys before the first entry. */
  readonly left: CidLink | null
  readonly entries: readonly MstEntry[]
  /** Height of the node's keys; null for a node with no entries. */
  readonly height: number | null
  /** The block was read in the canonical layout (mst-layout.ts), so it is canonical DAG-CBOR.
   * False when it was decoded the general way: it may or may not be. */
  readonly canonical: boolean
}

export class MstNodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MstNodeError'
  }
}

// `ignoreBOM`: a decoder drops a leading byte order mark (EF BB BF) by default, so a key (or a
// suffix) starting with one would read as another key than its bytes, which the height is
// hashed from. Kept, it is a character the key rules refuse.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Height of a key in the tree: leading zero bits of sha-256(key), counted in pairs. The key as
 * a string (hashed as UTF-8) or as its bytes. */
export function mstKeyHeight(key: string | Uint8Array): number {
  // A 'binary' (latin1) digest is several times cheaper to get from node:crypto than a Buffer
  // (no allocation of a backing store); each character is one byte of it.
  const digest = hash('sha256', key, 'binary')
  let zeros = 0
  for (let i = 0; i < digest.length; i++) {
    const c = digest.charCodeAt(i)
    if (c === 0) {
      zeros += 8
      continue
    }
    zeros += Math.clz32(c) - 24
    break
  }
  return zeros >> 1
}

/** A valid MST key: `collection/rkey` of allowed characters, 3 to 1024 bytes. */
export function isValidMstKey(key: string): boolean {
  const n = key.length
  if (n < 3 || n > MAX_REPO_PATH_LENGTH) return false
  let slash = -1
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i)
    if (c === 0x2f) {
      if (slash !== -1) return false
      slash = i
      continue
    }
    const ok =
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2d ||
      c === 0x2e ||
      c === 0x3a ||
      c === 0x5f ||
      c === 0x7e // - . : _ ~
    if (!ok) return false
  }
  return slash > 0 && slash < n - 1
}

export interface MstBounds {
  /** Keys must sort after this (exclusive); undefined for no bound. */
  readonly after?: string | undefined
  /** Keys must sort before this (exclusive); undefined for no bound. */
  readonly before?: string | undefined
  /** The height the parent expects for this node's keys. */
  readonly height?: number | undefined
}

/** Same answer as `isDagCborLink` (cid.ts), without making the base32 string of a decoded CID: its
 * "bafyrei" prefix is CIDv1 (0x01), dag-cbor (0x71), sha-256 (0x12) and 6 bits of the length. */
function isDagCborCid(value: unknown): value is CidLink {
  if (value instanceof CidLinkWrapper) {
    const b = value.bytes
    return b.length >= 4 && b[0] === 0x01 && b[1] === 0x71 && b[2] === 0x12 && b[3]! >> 2 === 8
  }
  return false
}

/** Key bytes (a whole key, or a suffix) as a string: strict UTF-8, every byte kept (a byte order
 * mark too); an ASCII-only loop measured no faster. Throws `MstNodeError`. */
function keyText(buf: Uint8Array, i: number): string {
  try {
    return textDecoder.decode(buf)
  } catch (err) {
    throw new MstNodeError(`entry ${i} key is not UTF-8`, { cause: err })
  }
}

const NO_BOUNDS: MstBounds = {}

/** Decodes and checks an MST node block. Throws `MstNodeError`. */
export function parseMstNode(block: Uint8Array, bounds: MstBounds = NO_BOUNDS): MstNode {
  // Nearly every node is canonical DAG-CBOR: read in place, in a third less time than decoding.
  // Anything else, and any node that breaks a rule, is read again below, which says what is wrong.
  try {
    const node = readCanonical(block, bounds)
    if (node !== null) return node
  } catch {}
  return parseDecodedNode(block, bounds)
}

// The key being read in place, as bytes: the previous key's first `p` bytes, then the suffix.
// Hashing these bytes and decoding them in one piece is cheaper than joining two strings, which
// node:crypto must copy into one before it hashes. The suffix is copied in byte by byte and the
// key handed on as a view kept per length: a new view for each suffix and each key was ~1% of a
// verify worker (BENCHMARKS.md, session 28). Neither the hash nor the decoder keeps the view.
const keyBytes = new Uint8Array(MAX_REPO_PATH_LENGTH)
// Filled with undefined up front: an element stored far past the end of an empty array would
// turn its elements into a dictionary.
const keyViews: (Uint8Array | undefined)[] = new Array(MAX_REPO_PATH_LENGTH + 1).fill(undefined)

/** The key's first `n` bytes (n ≤ MAX_REPO_PATH_LENGTH), as a view made once per length. */
function keyView(n: number): Uint8Array {
  let view = keyViews[n]
  if (view === undefined) {
    view = keyBytes.subarray(0, n)
    keyViews[n] = view
  }
  return view
}

function readCanonical(block: Uint8Array, bounds: MstBounds): MstNode | null {
  const entries: MstEntry[] = []
  let prev = ''
  let height: number | null = null
  const left = readCanonicalNode(block, (i, p, b, start, length, value, right) => {
    const n = p + length
    if (p > prev.length || (i === 0 && p !== 0) || n > MAX_REPO_PATH_LENGTH) return false
    // Prefix compression not exact (see entryKey): read again the general way, which says so.
    if (i > 0 && p < prev.length && length > 0 && b[start] === keyBytes[p]) return false
    for (let j = 0; j < length; j++) keyBytes[p + j] = b[start + j]!
    const bytes = keyView(n)
    const key = checkedKey(i, keyText(bytes, i), prev, bounds)
    height = keyHeight(i, mstKeyHeight(bytes), height)
    entries.push({ key, value, right })
    prev = key
    return true
  })
  if (left === undefined) return null
  checkNodeHeight(height, bounds)
  return { left, entries, height, canonical: true }
}

/** The key of entry `i` (its prefix length `p` and suffix bytes), checked against the previous
 * key, the node's bounds and the MST key rules. Throws `MstNodeError`. */
function entryKey(i: number, p: number, k: Uint8Array, prev: string, bounds: MstBounds): string {
  const suffix = keyText(k, i)
  // Exact compression: the shared prefix ends at `p`, so the suffix must not start with the
  // previous key's next character (an empty suffix is caught by the order check below).
  if (i > 0 && p < prev.length && suffix.length > 0 && suffix.charCodeAt(0) === prev.charCodeAt(p))
    throw new MstNodeError(`entry ${i} prefix compression is not exact`)
  return checkedKey(i, p === 0 ? suffix : prev.slice(0, p) + suffix, prev, bounds)
}

/** `key`, entry `i`'s, checked against the previous key, the node's bounds and the MST key
 * rules. Throws `MstNodeError`. */
function checkedKey(i: number, key: string, prev: string, bounds: MstBounds): string {
  if (!isValidMstKey(key)) throw new MstNodeError(`entry ${i} key is not a valid repo path`)
  if (i > 0 && key <= prev) throw new MstNodeError(`entry ${i} key is not after the previous key`)
  if (bounds.after !== undefined && key <= bounds.after) {
    throw new MstNodeError(`entry ${i} key lies before the node's lower bound`)
  }
  if (bounds.before !== undefined && key >= bounds.before) {
    throw new MstNodeError(`entry ${i} key lies after the node's upper bound`)
  }
  return key
}

/** The height all keys share: `height` so far (null before the first key), `h` entry `i`'s.
 * Throws `MstNodeError`. */
function keyHeight(i: number, h: number, height: number | null): number {
  if (height !== null && h !== height)
    throw new MstNodeError(`entry ${i} key height ${h} differs from ${height}`)
  return h
}

function checkNodeHeight(height: number | null, bounds: MstBounds): void {
  if (bounds.height !== undefined && height !== null && height !== bounds.height) {
    throw new MstNodeError(`node height ${height} where ${bounds.height} was expected`)
  }
}

function parseDecodedNode(block: Uint8Array, bounds: MstBounds): MstNode {
  let value: unknown
  try {
    value = decode(block)
  } catch (err) {
    throw new MstNodeError('MST node does not decode', { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MstNodeError('MST node is not a map')
  }
  const { l, e } = value as Record<string, unknown>
  if (Object.keys(value).length !== 2) throw new MstNodeError('MST node must have exactly l and e')
  if (l !== null && !isDagCborCid(l))
    throw new MstNodeError('MST node l is neither null nor a dag-cbor CID')
  if (!Array.isArray(e)) throw new MstNodeError('MST node e is not an array')

  const entries: MstEntry[] = []
  let prev = ''
  let height: number | null = null
  for (let i = 0; i < e.length; i++) {
    const raw: unknown = e[i]
    if (typeof raw !== 'object' || raw === null || Object.keys(raw).length !== 4) {
      throw new MstNodeError(`entry ${i} must be a map of p, k, v, t`)
    }
    const { p, k, v, t } = raw as Record<string, unknown>
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > prev.length) {
      throw new MstNodeError(`entry ${i} has an invalid prefix length`)
    }
    if (i === 0 && p !== 0) throw new MstNodeError('first entry must have prefix length 0')
    if (!isDecodedBytes(k)) throw new MstNodeError(`entry ${i} key suffix is not bytes`)
    if (!isDagCborCid(v)) throw new MstNodeError(`entry ${i} value is not a dag-cbor CID`)
    if (t !== null && !isDagCborCid(t))
      throw new MstNodeError(`entry ${i} subtree is neither null nor a CID`)
    const key = entryKey(i, p, (k as BytesWrapper).buf, prev, bounds)
    height = keyHeight(i, mstKeyHeight(key), height)
    entries.push({ key, value: v, right: t })
    prev = key
  }
  checkNodeHeight(height, bounds)
  return { left: l, entries, height, canonical: false }
}

/**
 * The canonical block of an MST node: entries in the given (ascending) order, each key
 * prefix-compressed against the previous one, encoded as DAG-CBOR. Keys must be valid MST keys
 * (ASCII); anything else throws `MstNodeError`. For hashing: it may be a view of a buffer that
 * the next node written reuses (mst-layout.ts), so hash or copy it before writing another.
 * `read` is the block the node was read from while its keys are still those (only links
 * changed), or null.
 */
export function transientMstNodeBlock(
  node: Pick<MstNode, 'left' | 'entries'>,
  read: Uint8Array | null,
): Uint8Array {
  // The inversion encodes every node it changes: written in place, in the layout above, ~3 times
  // faster than the general encoder; a link it cannot write so (a CID given as a string) goes
  // through that encoder.
  return transientCanonicalNode(node.left, node.entries, read) ?? encodeGeneral(node)
}

function encodeGeneral(node: Pick<MstNode, 'left' | 'entries'>): Uint8Array {
  const e: { p: number; k: BytesWrapper; v: CidLink; t: CidLink | null }[] = []
  let prev = ''
  for (const { key, value, right } of node.entries) {
    const p = commonPrefixLength(prev, key)
    e.push({ p, k: new BytesWrapper(asciiBytes(key, p)), v: value, t: right })
    prev = key
  }
  return encode({ l: node.left, e })
}

function asciiBytes(key: string, from: number): Uint8Array {
  const out = new Uint8Array(key.length - from)
  for (let j = from; j < key.length; j++) {
    const c = key.charCodeAt(j)
    if (c >= 0x80) throw new MstNodeError(`key ${JSON.stringify(key)} is not ASCII`)
    out[j - from] = c
  }
  return out
}
