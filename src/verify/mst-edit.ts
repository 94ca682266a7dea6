// A synchronous, in-memory editor for the part of an MST that a CAR slice carries (repository
// spec, "Merkle Search Tree"), used to undo a commit's ops. Nodes come from the shape check's
// parsed nodes (tree-shape.ts), are copied into mutable nodes when first read, and are
// re-encoded (protocol/mst.ts `transientMstNodeBlock`, sha-256 CIDs) only if they changed, once,
// when the root is asked for; a node whose keys did not change is its block with new links.
// Edits follow the MST rules: a key lives at the level of its height; inserting splits the
// subtree spanning the key, grows the tree when the key is higher than the root, and creates the
// entry-less intermediate nodes down to its level; deleting merges the subtrees on either side
// of the key and trims entry-less roots; an emptied tree is `EMPTY_MST_ROOT`.
// Every block read is checked to be canonical DAG-CBOR (once; one the shape check read in the
// canonical layout is known to be); a block needed but not in the slice throws `MstEditError`
// naming its CID.
// Deliberately not checked here: the shape of the nodes (tree-shape.ts, which must have accepted
// the root first), op semantics and validity of keys (invert.ts). Heights are passed in by the
// caller (a node's keys all have the node's height, which the shape check guarantees).
import { hash } from 'node:crypto'
import { type CidLink, CidLinkWrapper, encode } from '@atcute/cbor'
import { checkDagCbor } from '../protocol/cbor/strict.ts'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import { type MstEntry, type MstNode, transientMstNodeBlock } from '../protocol/mst.ts'

/** Root CID of an empty tree (a node with no entries): the state before a repo's first commit. */
export const EMPTY_MST_ROOT = cidStringForDagCbor(encode({ l: null, e: [] }))

export type MstEditProblem = 'missing-block' | 'not-canonical'

// The wording inversion problems have always used for a missing node (logs and tests match it).
const missingMessage = (cid: string) => `missing block in store; cid=${cid}; type=MST node`

export class MstEditError extends Error {
  readonly code: MstEditProblem
  readonly cid: string
  constructor(code: MstEditProblem, cid: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MstEditError'
    this.code = code
    this.cid = cid
  }
}

/** A node being edited. `cid` is the CID of its current content while known (unchanged since it
 * was read, or encoded since the last change), null once it changes. `block` is the block it was
 * read from while its keys are still those (only links changed: it is written by putting the new
 * links into a copy of the block), null once a key is added or removed, or for a node made here.
 * Each instance sits in exactly one place in the tree, so it is changed in place. */
class EditNode {
  readonly keys: string[]
  readonly values: CidLink[]
  /** keys.length + 1 subtrees: before the first key, then after each key. */
  readonly subs: (Sub | null)[]
  cid: CidLink | null
  block: Uint8Array | null
  constructor(
    keys: string[],
    values: CidLink[],
    subs: (Sub | null)[],
    read: { readonly cid: CidLink; readonly block: Uint8Array } | null = null,
  ) {
    this.keys = keys
    this.values = values
    this.subs = subs
    this.cid = read?.cid ?? null
    this.block = read?.block ?? null
  }
}

/** A node as tree-change.ts compares them: entries, and subtree CIDs (before each key, last). */
export interface MemoryNode {
  readonly keys: readonly string[]
  readonly values: readonly CidLink[]
  /** keys.length + 1 subtree CIDs (null: none). */
  readonly subs: readonly (string | null)[]
}

/** A parsed slice node in the same form. */
export function memoryNodeOf(node: MstNode): MemoryNode {
  const subs: (string | null)[] = [node.left?.$link ?? null]
  for (const e of node.entries) subs.push(e.right?.$link ?? null)
  return { keys: node.entries.map((e) => e.key), values: node.entries.map((e) => e.value), subs }
}

/** A subtree: a CID not read yet, or a node read (and maybe changed). */
type Sub = CidLink | EditNode

const nullable = (n: EditNode): EditNode | null =>
  n.keys.length === 0 && n.subs[0] === null ? null : n

/** Index of the first key ≥ `key` (nodes are small: a linear scan). */
function lowerBound(keys: readonly string[], key: string): number {
  let i = 0
  while (i < keys.length && keys[i]! < key) i++
  return i
}

/** The CID link of a dag-cbor block. A digest as a 'binary' (latin1) string is much cheaper to
 * get from node:crypto than as a Buffer. */
function dagCborLink(bytes: Uint8Array): CidLink {
  const digest = hash('sha256', bytes, 'binary')
  const cid = new Uint8Array(36)
  cid[0] = 0x01 // CIDv1
  cid[1] = 0x71 // dag-cbor
  cid[2] = 0x12 // sha-256
  cid[3] = 0x20 // 32 bytes
  for (let i = 0; i < 32; i++) cid[4 + i] = digest.charCodeAt(i)
  return new CidLinkWrapper(cid)
}

export class MstEditor {
  readonly #blocks: ReadonlyMap<string, Uint8Array>
  readonly #parsed: ReadonlyMap<string, MstNode>
  readonly #checked = new Set<string>()
  #root: Sub | null
  /** Height of the root's keys (0 for an empty tree). */
  #height: number

  /** `parsed` holds the slice's nodes reachable from `root` as the shape check parsed them. */
  constructor(
    blocks: ReadonlyMap<string, Uint8Array>,
    parsed: ReadonlyMap<string, MstNode>,
    root: string,
  ) {
    this.#blocks = blocks
    this.#parsed = parsed
    const node = parsed.get(root)
    if (node === undefined) throw new MstEditError('missing-block', root, missingMessage(root))
    this.#root = { $link: root }
    this.#height = node.height ?? 0
  }

  /** The value at `key` and the height of the node holding it, or null when absent. */
  lookup(key: string): { readonly value: CidLink; readonly height: number } | null {
    let node = this.#rootNode()
    let h = this.#height
    while (node !== null) {
      const idx = lowerBound(node.keys, key)
      if (node.keys[idx] === key) return { value: node.values[idx]!, height: h }
      const sub = node.subs[idx] ?? null
      if (sub === null) return null
      const child = this.#load(sub)
      node.subs[idx] = child
      node = child
      h--
    }
    return null
  }

  /** Sets `key` (whose height is `height`) to `value`; false when it already held it. */
  put(key: string, value: CidLink, height: number): boolean {
    let node = this.#rootNode()
    if (node === null) {
      this.#root = new EditNode([key], [value], [null, null])
      this.#height = height
      return true
    }
    let h = this.#height
    // A key higher than the root: the old root becomes the left subtree of new levels.
    for (; h < height; h++) node = new EditNode([], [], [node])
    if (!this.#putAt(node, key, value, height, h)) return false
    this.#root = node
    this.#height = h
    return true
  }

  /** Removes `key` (whose height is `height`); false when it was absent. */
  delete(key: string, height: number): boolean {
    const root = this.#rootNode()
    if (root === null || !this.#deleteAt(root, key, height, this.#height)) return false
    // Trim: a root without entries is replaced by its only subtree, level by level.
    let node: EditNode | null = root
    let h = this.#height
    while (node !== null && node.keys.length === 0) {
      const sub: Sub | null = node.subs[0] ?? null
      node = sub === null ? null : this.#load(sub)
      h--
    }
    this.#root = node
    this.#height = node === null ? 0 : h
    return true
  }

  /** The root node, read if need be; null for an empty tree. */
  #rootNode(): EditNode | null {
    if (this.#root === null) return null
    const root = this.#load(this.#root)
    this.#root = root
    return nullable(root)
  }

  /** The CID of the tree's root as it is now, encoding the nodes that changed. */
  rootCid(): string {
    const root = this.#root
    if (root === null) return EMPTY_MST_ROOT
    return (root instanceof EditNode ? this.#cidOf(root) : root).$link
  }

  #putAt(node: EditNode, key: string, value: CidLink, kh: number, h: number): boolean {
    const idx = lowerBound(node.keys, key)
    if (kh < h) {
      // Below this level; a missing subtree becomes a chain of entry-less nodes down to it.
      const sub = node.subs[idx] ?? null
      const child = sub === null ? new EditNode([], [], [null]) : this.#load(sub)
      if (sub !== null) node.subs[idx] = child
      if (!this.#putAt(child, key, value, kh, h - 1)) return false
      node.subs[idx] = child
      node.cid = null
      return true
    }
    if (node.keys[idx] === key) {
      if (node.values[idx]!.$link === value.$link) return false
      node.values[idx] = value
      node.cid = null
      return true
    }
    const [left, right] = this.#split(node.subs[idx] ?? null, key)
    node.block = null
    node.keys.splice(idx, 0, key)
    node.values.splice(idx, 0, value)
    node.subs.splice(idx, 1, left, right)
    node.cid = null
    return true
  }

  /** Splits a subtree into the parts before and after `key` (which it does not hold). */
  #split(sub: Sub | null, key: string): [Sub | null, Sub | null] {
    if (sub === null) return [null, null]
    const node = this.#load(sub)
    const n = node.keys.length
    const idx = lowerBound(node.keys, key)
    const below = node.subs[idx] ?? null
    const child = below === null ? null : this.#load(below)
    node.subs[idx] = child
    const [l, r] = this.#split(child, key)
    // A side that gets everything is the node itself, unchanged (so not re-encoded).
    if (idx === n && l === child) return [nullable(node), null]
    if (idx === 0 && r === child) return [null, nullable(node)]
    const left = new EditNode(node.keys.slice(0, idx), node.values.slice(0, idx), [
      ...node.subs.slice(0, idx),
      l,
    ])
    const right = new EditNode(node.keys.slice(idx), node.values.slice(idx), [
      r,
      ...node.subs.slice(idx + 1),
    ])
    return [nullable(left), nullable(right)]
  }

  #deleteAt(node: EditNode, key: string, kh: number, h: number): boolean {
    if (kh > h) return false
    const idx = lowerBound(node.keys, key)
    if (kh < h) {
      const sub = node.subs[idx] ?? null
      if (sub === null) return false
      const child = this.#load(sub)
      node.subs[idx] = child
      if (!this.#deleteAt(child, key, kh, h - 1)) return false
      node.subs[idx] = nullable(child)
      node.cid = null
      return true
    }
    if (node.keys[idx] !== key) return false
    const merged = this.#merge(node.subs[idx] ?? null, node.subs[idx + 1] ?? null)
    node.block = null
    node.keys.splice(idx, 1)
    node.values.splice(idx, 1)
    node.subs.splice(idx, 2, merged)
    node.cid = null
    return true
  }

  /** Joins two adjacent subtrees of one level (all keys of `a` sort before those of `b`). */
  #merge(a: Sub | null, b: Sub | null): Sub | null {
    if (a === null) return b
    if (b === null) return a
    const left = this.#load(a)
    const right = this.#load(b)
    const boundary = this.#merge(left.subs[left.subs.length - 1] ?? null, right.subs[0] ?? null)
    const node = new EditNode(
      [...left.keys, ...right.keys],
      [...left.values, ...right.values],
      [...left.subs.slice(0, -1), boundary, ...right.subs.slice(1)],
    )
    return nullable(node)
  }

  /**
   * Every node of the current tree held in memory (read or changed here, or in the slice the
   * editor was given), by CID: its entries and its subtrees' CIDs. A subtree neither read nor in
   * the slice is left out (it is the same in any tree that links it). For tree-change.ts.
   */
  memoryNodes(): Map<string, MemoryNode> {
    const out = new Map<string, MemoryNode>()
    const stack: Sub[] = this.#root === null ? [] : [this.#root]
    while (stack.length > 0) {
      const sub = stack.pop()!
      if (sub instanceof EditNode) {
        const cid = this.#cidOf(sub).$link
        if (out.has(cid)) continue
        const subs: (string | null)[] = []
        for (let i = 0; i < sub.subs.length; i++) subs.push(this.#linkFor(i, sub)?.$link ?? null)
        out.set(cid, { keys: sub.keys, values: sub.values, subs })
        for (const child of sub.subs) if (child !== null) stack.push(child)
        continue
      }
      const parsed = this.#parsed.get(sub.$link)
      if (parsed === undefined || out.has(sub.$link)) continue
      const node = memoryNodeOf(parsed)
      out.set(sub.$link, node)
      for (const child of node.subs) if (child !== null) stack.push({ $link: child })
    }
    return out
  }

  /** The node for a subtree: itself when already read, else a copy of the parsed block. */
  #load(sub: Sub): EditNode {
    if (sub instanceof EditNode) return sub
    const cid = sub.$link
    const bytes = this.#blocks.get(cid)
    if (bytes === undefined) throw new MstEditError('missing-block', cid, missingMessage(cid))
    const parsed = this.#parsed.get(cid)
    // Every slice node reachable from the root was parsed by the shape check.
    if (parsed === undefined) throw new Error(`MST node ${cid} was not shape-checked`)
    // A block read in the canonical layout is canonical DAG-CBOR already.
    if (!parsed.canonical && !this.#checked.has(cid)) {
      try {
        checkDagCbor(bytes)
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err)
        throw new MstEditError('not-canonical', cid, `MST block ${cid}: ${why}`, { cause: err })
      }
      this.#checked.add(cid)
    }
    const { entries } = parsed
    const subs: (Sub | null)[] = [parsed.left]
    for (const e of entries) subs.push(e.right)
    return new EditNode(
      entries.map((e) => e.key),
      entries.map((e) => e.value),
      subs,
      { cid: sub, block: bytes },
    )
  }

  #cidOf(node: EditNode): CidLink {
    if (node.cid !== null) return node.cid
    const entries: MstEntry[] = []
    for (let i = 0; i < node.keys.length; i++) {
      entries.push({
        key: node.keys[i]!,
        value: node.values[i]!,
        right: this.#linkFor(i + 1, node),
      })
    }
    // Hashed at once: the block may be a view of a buffer the next node written reuses.
    const block = transientMstNodeBlock({ left: this.#linkFor(0, node), entries }, node.block)
    const cid = dagCborLink(block)
    node.cid = cid
    return cid
  }

  #linkFor(i: number, node: EditNode): CidLink | null {
    const sub = node.subs[i] ?? null
    return sub instanceof EditNode ? this.#cidOf(sub) : sub
  }
}
