// MST inversion for sync 1.1 commits (sync spec, "Commit Validation"): given the blocks of a
// commit's CAR slice, the new MST root (`commit.data`) and the commit's ops, check that every op
// is true of the new tree (a created or updated path holds the op's CID; a deleted path is
// absent) in a tree of valid shape (tree-shape.ts), then undo every op in the tree and return the root that results. The caller compares
// it with the message's `prevData`. Because an MST's shape depends only on its contents, the ops
// may be undone in any order; a missing MST block, a malformed node, an op on the same path twice
// or an update/delete without `prev` makes inversion fail with a stated problem.
// Deliberately not done here: comparing with `prevData` or stored state (the caller decides what
// a mismatch means), and the signature. Pure: works on the given blocks only.

import { encode } from '@atcute/cbor'
import type { CidLink } from '@atcute/cid'
import { type BlockMap, type BlockStore, type MSTNode, NodeStore, NodeWrangler } from '@atcute/mst'
import { checkDagCbor } from '../protocol/cbor/strict.ts'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import type { RepoOp } from '../protocol/messages.ts'
import { checkTreeShape } from './tree-shape.ts'

export type { RepoOp }

/** Root CID of an empty tree (a node with no entries): the state before a repo's first commit. */
export const EMPTY_MST_ROOT = cidStringForDagCbor(encode({ l: null, e: [] }))

export type InversionResult =
  | { readonly ok: true; readonly previousRoot: string }
  | { readonly ok: false; readonly problem: string }

/** Serves the CAR slice's blocks to the MST code, checking each MST block is canonical DAG-CBOR on
 * first read; new nodes made while undoing ops are kept in a separate overlay. */
class SliceBlockStore implements BlockStore {
  readonly #slice: ReadonlyMap<string, Uint8Array>
  readonly #overlay = new Map<string, Uint8Array<ArrayBuffer>>()
  constructor(slice: ReadonlyMap<string, Uint8Array>) {
    this.#slice = slice
  }
  async get(cid: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const own = this.#overlay.get(cid)
    if (own !== undefined) return own
    const bytes = this.#slice.get(cid)
    if (bytes === undefined) return null
    checkDagCbor(bytes)
    return bytes as Uint8Array<ArrayBuffer>
  }
  async getMany(cids: string[]): Promise<{ found: BlockMap; missing: string[] }> {
    const found: BlockMap = new Map()
    const missing: string[] = []
    for (const cid of cids) {
      const bytes = await this.get(cid)
      if (bytes === null) missing.push(cid)
      else found.set(cid, bytes)
    }
    return { found, missing }
  }
  async has(cid: string): Promise<boolean> {
    return this.#overlay.has(cid) || this.#slice.has(cid)
  }
  async put(cid: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    this.#overlay.set(cid, bytes)
  }
  async putMany(blocks: BlockMap): Promise<void> {
    for (const [cid, bytes] of blocks) this.#overlay.set(cid, bytes)
  }
  async delete(cid: string): Promise<void> {
    this.#overlay.delete(cid)
  }
  async deleteMany(cids: string[]): Promise<void> {
    for (const cid of cids) this.#overlay.delete(cid)
  }
}

/** The value at `key` in the tree rooted at `root`, or null when absent. */
async function lookup(store: NodeStore, root: string, key: string): Promise<CidLink | null> {
  let node: MSTNode = await store.get(root)
  for (;;) {
    const idx = node.lowerBound(key)
    if (node.keys[idx] === key) return node.values[idx] ?? null
    const sub = node.subtrees[idx]
    if (sub === null || sub === undefined) return null
    node = await store.get(sub.$link)
  }
}

/** Undoes `ops` on the tree rooted at `root` (see the header comment). Never throws. */
export async function invertOps(
  blocks: ReadonlyMap<string, Uint8Array>,
  root: string,
  ops: readonly RepoOp[],
): Promise<InversionResult> {
  const seen = new Set<string>()
  for (const op of ops) {
    if (seen.has(op.path)) return { ok: false, problem: `two ops on ${op.path}` }
    seen.add(op.path)
  }
  const shape = checkTreeShape(blocks, root)
  if (shape !== null) return { ok: false, problem: shape }
  const store = new NodeStore(new SliceBlockStore(blocks))
  const wrangler = new NodeWrangler(store)
  try {
    for (const op of ops) {
      const found = await lookup(store, root, op.path)
      if (op.action === 'delete') {
        if (found !== null) return { ok: false, problem: `deleted ${op.path} is still in the tree` }
      } else if (found === null || op.cid === null || found.$link !== op.cid.$link) {
        return {
          ok: false,
          problem: `${op.action} ${op.path}: the tree does not hold the op's CID`,
        }
      }
    }
    let current = root
    for (const op of ops) {
      let next: string
      if (op.action === 'create') {
        next = await wrangler.deleteRecord(current, op.path)
      } else {
        if (!op.prev) return { ok: false, problem: `${op.action} ${op.path} has no prev` }
        next = await wrangler.putRecord(current, op.path, op.prev)
      }
      if (next === current) return { ok: false, problem: `${op.action} ${op.path} changes nothing` }
      current = next
    }
    return { ok: true, previousRoot: current }
  } catch (err) {
    return { ok: false, problem: describe(err) }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cid = (err as { cid?: unknown }).cid
    if (err.name === 'MissingBlockError' && typeof cid === 'string')
      return `MST block ${cid} is missing`
    return err.message
  }
  return String(err)
}
