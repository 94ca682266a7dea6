// Merkle Search Tree nodes (repository spec, "Merkle Search Tree"). Checks a node block's shape
// (`l`: CID link or null; `e`: entries of `p` prefix length, `k` key suffix bytes, `v` value CID,
// `t` subtree CID or null), that prefix compression is exact (first entry `p` = 0, `p` never past
// the previous key, and no longer shared prefix left unused), that keys are valid repo paths in
// strictly ascending byte order, that all keys of a node have the same height, and, given the
// bounds a parent implies, that every key lies within them.
// Deliberately not checked here: that subtree CIDs resolve, or that a child's height is one less
// than its parent's (that needs the child block); verify/ walks the tree.
// Key height is computed synchronously with node:crypto (sha-256, leading zero bits / 2).

import type { BytesWrapper } from '@atcute/cbor'
import { type CidLink, decode, isBytes } from '@atcute/cbor'
import { isDagCborLink, sha256 } from './cid.ts'
import { MAX_REPO_PATH_LENGTH } from './limits.ts'

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
}

export class MstNodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MstNodeError'
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true })
const textEncoder = new TextEncoder()

/** Height of a key in the tree: leading zero bits of sha-256(key), counted in pairs. */
export function mstKeyHeight(key: string): number {
  const digest = sha256(textEncoder.encode(key))
  let zeros = 0
  for (const byte of digest) {
    if (byte === 0) {
      zeros += 8
      continue
    }
    zeros += Math.clz32(byte) - 24
    break
  }
  return zeros >> 1
}

/** Length of the common prefix of two strings, in UTF-16 code units (keys are ASCII). */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
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
  readonly after?: string
  /** Keys must sort before this (exclusive); undefined for no bound. */
  readonly before?: string
  /** The height the parent expects for this node's keys. */
  readonly height?: number
}

/** Decodes and checks an MST node block. Throws `MstNodeError`. */
export function parseMstNode(block: Uint8Array, bounds: MstBounds = {}): MstNode {
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
  if (l !== null && !isDagCborLink(l))
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
    if (!isBytes(k)) throw new MstNodeError(`entry ${i} key suffix is not bytes`)
    if (!isDagCborLink(v)) throw new MstNodeError(`entry ${i} value is not a dag-cbor CID`)
    if (t !== null && !isDagCborLink(t))
      throw new MstNodeError(`entry ${i} subtree is neither null nor a CID`)
    let suffix: string
    try {
      suffix = textDecoder.decode((k as BytesWrapper).buf)
    } catch (err) {
      throw new MstNodeError(`entry ${i} key is not UTF-8`, { cause: err })
    }
    const key = prev.slice(0, p) + suffix
    if (commonPrefixLength(prev, key) !== p && i > 0) {
      throw new MstNodeError(`entry ${i} prefix compression is not exact`)
    }
    if (!isValidMstKey(key)) throw new MstNodeError(`entry ${i} key is not a valid repo path`)
    if (i > 0 && key <= prev) throw new MstNodeError(`entry ${i} key is not after the previous key`)
    if (bounds.after !== undefined && key <= bounds.after) {
      throw new MstNodeError(`entry ${i} key lies before the node's lower bound`)
    }
    if (bounds.before !== undefined && key >= bounds.before) {
      throw new MstNodeError(`entry ${i} key lies after the node's upper bound`)
    }
    const h = mstKeyHeight(key)
    if (height === null) height = h
    else if (h !== height)
      throw new MstNodeError(`entry ${i} key height ${h} differs from ${height}`)
    entries.push({ key, value: v, right: t })
    prev = key
  }
  if (bounds.height !== undefined && height !== null && height !== bounds.height) {
    throw new MstNodeError(`node height ${height} where ${bounds.height} was expected`)
  }
  return { left: l, entries, height }
}
