// Test and bench support: an atproto repository kept in memory that makes real signed commits
// and the `#commit` / `#sync` events a sync 1.1 PDS would emit for them: the CAR slice holds the
// commit, the new records, the new MST nodes, and every MST node a relay needs to invert the
// ops to `prevData` (found by running the inversion itself and recording what it reads).
import { BytesWrapper, type CidLink, encode } from '@atcute/cbor'
import { fromString, toCidLink } from '@atcute/cid'
import { MemoryBlockStore, NodeStore, NodeWrangler } from '@atcute/mst'
import { encodeCarSlice } from '../../src/protocol/car.ts'
import { cidStringForDagCbor } from '../../src/protocol/cid.ts'
import { unsignedCommitBytes } from '../../src/protocol/commit.ts'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import type { CommitMessage, RepoOp, SyncMessage } from '../../src/protocol/messages.ts'
import { TidClock } from '../../src/protocol/syntax/index.ts'
import { EMPTY_MST_ROOT, invertOps } from '../../src/verify/invert.ts'
import type { TestKeypair } from './keypair.ts'

export interface Write {
  readonly action: 'create' | 'update' | 'delete'
  readonly path: string
  readonly record?: Record<string, unknown>
}

export interface CommitOptions {
  /** Rev timestamp in ms (default: now, monotonic). */
  readonly revTimeMs?: number
  /** This exact rev (a TID above the current one); overrides `revTimeMs`. */
  readonly rev?: string
  /** Leave `prevData` out, as pre-1.1 PDSes do. */
  readonly omitPrevData?: boolean
  readonly seq?: number
}

/** A memory store that notes, while `fresh` is set, the CIDs it did not hold before. */
class FreshBlockStore extends MemoryBlockStore {
  fresh: Set<string> | null = null

  override put(cid: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    if (this.fresh !== null && !this.blocks.has(cid)) this.fresh.add(cid)
    return super.put(cid, bytes)
  }
}

export class TestRepo {
  readonly did: string
  keypair: TestKeypair
  readonly #store = new FreshBlockStore()
  readonly store: MemoryBlockStore = this.#store
  readonly #wrangler = new NodeWrangler(new NodeStore(this.store))
  readonly #clock = new TidClock()
  /** The current signed commit block (not a tree block), for exports. */
  #commitBytes: Uint8Array | null = null
  /** Current MST root (null before the first commit). */
  root: string | null = null
  rev: string | null = null
  commitCid: string | null = null
  seq = 0

  constructor(did: string, keypair: TestKeypair) {
    this.did = did
    this.keypair = keypair
  }

  #nextRev(timeMs?: number): string {
    if (timeMs === undefined) return this.#clock.next()
    return new TidClock({ now: () => timeMs * 1000 }).next()
  }

  /** Applies writes, signs a new commit, and returns the `#commit` event for it. */
  async commit(writes: readonly Write[], opts: CommitOptions = {}): Promise<CommitMessage> {
    // The blocks this commit adds are noted as they are put (not found by comparing the whole
    // store before and after, which made a long history quadratic).
    const added = new Set<string>()
    this.#store.fresh = added
    try {
      return await this.#commit(writes, opts, added)
    } finally {
      this.#store.fresh = null
    }
  }

  async #commit(
    writes: readonly Write[],
    opts: CommitOptions,
    added: ReadonlySet<string>,
  ): Promise<CommitMessage> {
    const prevRoot = this.root
    const prevRev = this.rev
    const ops: RepoOp[] = []
    const recordBlocks = new Map<string, Uint8Array>()
    let root = this.root
    for (const w of writes) {
      const prev = root === null ? null : await this.#lookup(root, w.path)
      if ((w.action === 'create') === (prev !== null)) {
        throw new Error(
          `test repo: ${w.action} of ${w.path}, which ${prev ? 'exists' : 'does not exist'}`,
        )
      }
      if (w.action === 'delete') {
        root = await this.#wrangler.deleteRecord(root, w.path)
        ops.push(
          prev
            ? { action: 'delete', path: w.path, cid: null, prev }
            : { action: 'delete', path: w.path, cid: null },
        )
        continue
      }
      const bytes = encode(
        w.record ?? {
          $type: 'app.bsky.feed.post',
          text: 'hello',
          createdAt: new Date().toISOString(),
        },
      )
      const cid = cidStringForDagCbor(bytes)
      await this.store.put(cid, bytes as Uint8Array<ArrayBuffer>)
      recordBlocks.set(cid, bytes)
      const link: CidLink = toCidLink(fromString(cid))
      root = await this.#wrangler.putRecord(root, w.path, link)
      ops.push(
        prev
          ? { action: w.action, path: w.path, cid: link, prev }
          : { action: w.action, path: w.path, cid: link },
      )
    }
    if (root === null) throw new Error('empty commit on an empty repo')

    const rev = opts.rev ?? this.#nextRev(opts.revTimeMs)
    const { cid: commitCid, bytes: commitBytes } = this.#signCommit(root, rev)

    // Blocks: the commit, new records, new MST nodes, and the nodes undoing the ops reads
    // (found by undoing them on the full store and recording reads); then check that the
    // resulting slice alone inverts, as a relay will.
    const reads = await this.#nodesReadUndoing(root, ops)
    const blocks = new Map<string, Uint8Array>([[commitCid, commitBytes], ...recordBlocks])
    for (const cid of added) blocks.set(cid, this.store.blocks.get(cid)!)
    for (const cid of reads) {
      const b = this.store.blocks.get(cid)
      if (b) blocks.set(cid, b)
    }
    const expected = prevRoot ?? EMPTY_MST_ROOT
    const inverted = invertOps(blocks, root, ops)
    if (!inverted.ok || inverted.previousRoot !== expected) {
      throw new Error(
        `test repo: commit does not invert: ${JSON.stringify(inverted)} expected ${expected}`,
      )
    }

    this.root = root
    this.rev = rev
    this.commitCid = commitCid
    this.#commitBytes = commitBytes
    this.seq = opts.seq ?? this.seq + 1
    const msg: CommitMessage = {
      type: '#commit',
      seq: this.seq,
      repo: this.did,
      rev,
      since: prevRev,
      commit: toCidLink(fromString(commitCid)),
      blocks: encodeCarSlice([commitCid], blocks),
      ops,
      blobs: [],
      time: new Date().toISOString(),
      rebase: false,
      tooBig: false,
    }
    return prevRoot && !opts.omitPrevData
      ? { ...msg, prevData: toCidLink(fromString(prevRoot)) }
      : msg
  }

  /** A `#sync` event for the current head (re-signed with a fresh rev). */
  sync(opts: { revTimeMs?: number; seq?: number } = {}): SyncMessage {
    if (this.root === null) throw new Error('no commit yet')
    const rev = this.#nextRev(opts.revTimeMs)
    const { cid, bytes } = this.#signCommit(this.root, rev)
    this.rev = rev
    this.commitCid = cid
    this.#commitBytes = bytes
    this.seq = opts.seq ?? this.seq + 1
    return {
      type: '#sync',
      seq: this.seq,
      did: this.did,
      rev,
      blocks: encodeCarSlice([cid], [[cid, bytes]]),
      time: new Date().toISOString(),
    }
  }

  /**
   * The current repo as a full export holds it: the signed commit, then every MST node and record
   * block of the current tree (what `getRepo` serves), by CID.
   */
  async exportBlocks(): Promise<Map<string, Uint8Array>> {
    if (this.root === null || this.commitCid === null) throw new Error('no commit yet')
    const out = new Map<string, Uint8Array>()
    const ns = new NodeStore(this.store)
    const visit = async (cid: string): Promise<void> => {
      out.set(cid, this.store.blocks.get(cid)!)
      const node = await ns.get(cid)
      for (const v of node.values) out.set(v.$link, this.store.blocks.get(v.$link)!)
      for (const sub of node.subtrees) if (sub) await visit(sub.$link)
    }
    await visit(this.root)
    return out
  }

  /** The current repo as a `getRepo` CAR (the commit first). */
  async exportCar(): Promise<Uint8Array> {
    const blocks = await this.exportBlocks()
    const commit = this.commitCid!
    return encodeCarSlice([commit], [[commit, this.#commitBytes!], ...blocks])
  }

  #signCommit(root: string, rev: string): { cid: string; bytes: Uint8Array } {
    const unsigned = {
      did: this.did,
      version: 3 as const,
      data: toCidLink(fromString(root)),
      rev,
      prev: null,
    }
    const sig = this.keypair.sign(unsignedCommitBytes({ ...unsigned, sig: new Uint8Array() }))
    const bytes = encode({ ...unsigned, sig: new BytesWrapper(sig) })
    const cid = cidStringForDagCbor(bytes)
    return { cid, bytes }
  }

  async #nodesReadUndoing(root: string, ops: readonly RepoOp[]): Promise<Set<string>> {
    const reads = new Set<string>()
    const inner = this.store
    const recording = Object.create(inner) as MemoryBlockStore
    recording.get = (cid: string) => {
      reads.add(cid)
      return inner.get(cid)
    }
    const overlay = new MemoryBlockStore()
    const store = Object.assign(Object.create(recording) as MemoryBlockStore, {
      get: async (cid: string) => (await overlay.get(cid)) ?? recording.get(cid),
      put: (cid: string, bytes: Uint8Array<ArrayBuffer>) => overlay.put(cid, bytes),
    })
    const ns = new NodeStore(store)
    const wrangler = new NodeWrangler(ns)
    let current = root
    for (const op of ops) {
      await this.#lookup(current, op.path, ns)
      current =
        op.action === 'create'
          ? await wrangler.deleteRecord(current, op.path)
          : await wrangler.putRecord(current, op.path, op.prev!)
    }
    return reads
  }

  async #lookup(
    root: string,
    path: string,
    ns = new NodeStore(this.store),
  ): Promise<CidLink | null> {
    let node = await ns.get(root)
    for (;;) {
      const idx = node.lowerBound(path)
      if (node.keys[idx] === path) return node.values[idx] ?? null
      const sub = node.subtrees[idx]
      if (!sub) return null
      node = await ns.get(sub.$link)
    }
  }
}

/** The wire body of a message (for encoding a frame), with the message's own seq. */
export function messageBody(msg: CommitMessage | SyncMessage): Record<string, unknown> {
  const { type: _type, blocks, ...rest } = msg
  return { ...rest, blocks: new BytesWrapper(blocks) }
}

/** A complete upstream frame for a message. */
export function messageFrame(msg: CommitMessage | SyncMessage): Uint8Array {
  return encodeMessageFrame(msg.type, messageBody(msg))
}
