// The mirror of every repo (archival mode): the one writer of the stored repos it holds (every
// repo; with account shards, each shard's mirror its own accounts', and the main thread's only
// reads). It applies an
// accepted commit to the account's stored tree, imports a whole verified repo (a resync), forgets
// a repo (a takedown), compacts one, and reads what the sync API serves: a repo export (CAR), a
// record with its MST proof, and blocks by CID.
// A commit the stored tree cannot follow (a block it needs is neither in the commit nor stored:
// the mirror missed a commit, or never had the repo) is answered `missing`, and the stored repo
// is left as it was; the caller marks the account desynchronized and has it resynced.
// Deliberately not here: verifying commits and repos (verify/; callers pass only verified data),
// fetching from PDSes (resync/), and the accounts' statuses (ingest/).
import { NodeStore } from '@atcute/mst'
import { encodeCarBlocks, encodeCarSlice } from '../protocol/car.ts'
import { BoundedCache } from '../runtime/bounded-cache.ts'
import type { TreeChange } from '../verify/tree-change.ts'
import { BlockSource } from './block-source.ts'
import { changeFrom, mirrorChange } from './mirror-change.ts'
import { recordPath } from './record-path.ts'
import type { RepoChange, RepoHead } from './repo-change.ts'
import { cidFromBytes, type RepoStore, type StoredRepo } from './repo-store.ts'
import { streamFrom } from './stream-from.ts'

/** Blocks read per page when exporting or compacting a repo. */
const PAGE = 1000

/**
 * Repos whose head the mirror remembers after writing it (~200 bytes each), so the next commit
 * of a busy repo skips reading it back: one query fewer per commit, a round trip on PostgreSQL.
 */
const HEAD_CACHE_SIZE = 50_000

/** What a write needs of the stored head. */
type HeadRef = Pick<StoredRepo, 'id' | 'rev' | 'commitCid' | 'dataCid'>

export type ApplyOutcome =
  | { readonly ok: true; readonly applied: boolean }
  | { readonly ok: false; readonly missing: string }

export interface CompactionResult {
  /** Blocks deleted: stored for the repo but not part of its current tree. */
  readonly removed: number
  /** Blocks of the current tree (nodes and records) kept. */
  readonly kept: number
}

/** What the mirror has done since start (metrics). */
export interface MirrorStats {
  /** Commits applied to a stored repo; a replay at or below the stored rev is `unchanged`. */
  commitsApplied: number
  commitsUnchanged: number
  /** Commits the stored repo could not follow (a block never seen): the account is repaired. */
  commitsMissing: number
  /** Of those applied, commits written with the change their verification worked out. */
  commitsWithoutDiff: number
  reposImported: number
  reposDeleted: number
}

/** Counts from zero (a new mirror's, and a sum's start). */
export const noMirrorStats = (): MirrorStats => ({
  commitsApplied: 0,
  commitsUnchanged: 0,
  commitsMissing: 0,
  commitsWithoutDiff: 0,
  reposImported: 0,
  reposDeleted: 0,
})

/** Mirrors' counts added up (the account shards' each; one without any counts nothing). */
export function sumMirrorStats(each: readonly (MirrorStats | undefined)[]): MirrorStats {
  const sum = noMirrorStats()
  for (const stats of each) {
    if (!stats) continue
    for (const k of Object.keys(sum) as (keyof MirrorStats)[]) sum[k] += stats[k]
  }
  return sum
}

/**
 * What the read routes use of a mirror (getRepo, getRecord, getBlocks). With account shards
 * the main thread's mirror is only this: each shard writes its own accounts' repos.
 */
export type MirrorReader = Pick<Mirror, 'head' | 'exportRepo' | 'recordProof' | 'blocks'>

export class Mirror {
  readonly #store: RepoStore
  readonly stats: MirrorStats = noMirrorStats()
  /**
   * Per repo, the tail of its writes: commits, imports, deletion and compaction of one repo run
   * one at a time (compaction must never sweep blocks a commit is adding).
   */
  readonly #writing = new Map<string, Promise<unknown>>()
  /**
   * Heads this mirror wrote (the least recently used evicted). The mirror is the only writer of
   * its repos and a repo's writes run one at a time, so an entry is the stored head until the next
   * write of that repo, which replaces or drops it; unless the database loses acknowledged
   * writes, which the store's check of the head at the next write catches (`#write`).
   */
  readonly #heads = new BoundedCache<HeadRef>(HEAD_CACHE_SIZE)

  constructor(store: RepoStore) {
    this.#store = store
  }

  head(did: string): Promise<StoredRepo | undefined> {
    return this.#store.head(did)
  }

  /**
   * Applies an accepted commit (its head and the blocks its CAR slice carried). A commit at or
   * below the stored rev changes nothing (`applied: false`): a replay after a restart. With the
   * change its verification worked out (a proven commit), that change is written as it is when
   * the stored tree is the one the commit starts from; otherwise the trees are diffed.
   */
  applyCommit(
    did: string,
    head: RepoHead,
    blocks: ReadonlyMap<string, Uint8Array>,
    change?: TreeChange,
  ): Promise<ApplyOutcome> {
    return this.#exclusive(did, async () => {
      const out = await this.#write(did, head, blocks, false, change)
      if (!out.ok) this.stats.commitsMissing++
      else if (out.applied) this.stats.commitsApplied++
      else this.stats.commitsUnchanged++
      return out
    })
  }

  /**
   * Makes the stored repo the given one (a whole repo, verified complete): only the difference
   * to what is stored is written. Unlike a commit, it may move the repo to any rev.
   */
  async importRepo(
    did: string,
    head: RepoHead,
    blocks: ReadonlyMap<string, Uint8Array>,
  ): Promise<{ changed: boolean }> {
    const out = await this.#exclusive(did, () => this.#write(did, head, blocks, true))
    if (!out.ok) throw new Error(`a complete repo lacks block ${out.missing}`)
    if (out.applied) this.stats.reposImported++
    return { changed: out.applied }
  }

  /** Forgets the repo and every block of it; false when it was not mirrored. */
  delete(did: string): Promise<boolean> {
    return this.#exclusive(did, async () => {
      this.#heads.delete(did)
      const deleted = await this.#store.delete(did)
      if (deleted) this.stats.reposDeleted++
      return deleted
    })
  }

  /**
   * The repo as a CAR (commit first, then every block of its tree, or with `since` only those a
   * revision after it added), in chunks; undefined when it is not mirrored.
   */
  async exportCar(did: string, since?: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    return (await this.exportRepo(did, since))?.chunks
  }

  /**
   * The repo's head and its export as a CAR in chunks, both from one consistent state of the
   * store: commits landing while a slow client downloads never mix into it. The caller must
   * read the chunks to the end or stop them (`return()`): they hold a read transaction.
   */
  async exportRepo(
    did: string,
    since?: string,
  ): Promise<{ head: StoredRepo; chunks: AsyncIterableIterator<Uint8Array> } | undefined> {
    let seen: (head: StoredRepo | undefined) => void = () => {}
    const first = new Promise<StoredRepo | undefined>((resolve) => (seen = resolve))
    let failed: { error: unknown } | undefined
    const chunks = streamFrom<Uint8Array>(async (push) => {
      try {
        await this.#store.snapshot(async (reader) => {
          const head = await reader.head(did)
          seen(head)
          if (!head) return
          if (!(await push(encodeCarSlice([head.commitCid], [[head.commitCid, head.commitBlock]]))))
            return
          let after: Uint8Array | null = null
          for (;;) {
            const page = await reader.blockPage(did, after, PAGE, since)
            if (page.length === 0) return
            if (!(await push(encodeCarBlocks(page.map((b) => [b.cid, b.data] as const))))) return
            after = page.at(-1)!.cid
            if (page.length < PAGE) return
          }
        })
      } catch (error) {
        failed = { error }
        throw error
      } finally {
        seen(undefined)
      }
    })
    const head = await first
    if (head) return { head, chunks }
    await chunks.return?.()
    if (failed) throw failed.error
    return undefined
  }

  /**
   * A record and the proof of it: the commit, the MST nodes from the root down to where the path
   * is or would be, and the record block when it exists (so a missing record is proven absent).
   */
  async recordProof(
    did: string,
    path: string,
  ): Promise<{ car: Uint8Array; exists: boolean; head: StoredRepo } | undefined> {
    // One consistent state: a commit landing meanwhile must not delete the nodes being read.
    return this.#store.snapshot(async (reader) => {
      const head = await reader.head(did)
      if (!head) return undefined
      const source = new BlockSource(new Map(), (cids) => reader.blocks(did, cids))
      const nodes = new NodeStore(source)
      const walk = await recordPath((cid) => nodes.get(cid), head.dataCid, path)
      const value = walk.value
      const cids = [...walk.nodes, ...(value ? [value] : [])]
      const blocks = await reader.blocks(did, cids)
      const car = encodeCarSlice(
        [head.commitCid],
        [
          [head.commitCid, head.commitBlock],
          ...cids.flatMap((c) => {
            const b = blocks.get(c)
            return b ? [[c, b] as const] : []
          }),
        ],
      )
      return { car, exists: value !== null, head }
    })
  }

  /** The stored blocks of the repo among `cids` (its commit included); undefined when not mirrored. */
  async blocks(did: string, cids: readonly string[]): Promise<Map<string, Uint8Array> | undefined> {
    const head = await this.#store.head(did)
    if (!head) return undefined
    const found = await this.#store.blocks(
      did,
      cids.filter((c) => c !== head.commitCid),
    )
    if (cids.includes(head.commitCid)) found.set(head.commitCid, head.commitBlock)
    return found
  }

  /**
   * Deletes the repo's stored blocks that its current tree does not reach (left by a failure
   * between writes, or by an older version). The tree itself is never touched, so what is
   * served is unchanged.
   */
  compact(did: string): Promise<CompactionResult> {
    return this.#exclusive(did, () => this.#compact(did))
  }

  async #compact(did: string): Promise<CompactionResult> {
    const head = await this.#store.head(did)
    if (!head) return { removed: 0, kept: 0 }
    const reachable = new Set<string>()
    const source = new BlockSource(new Map(), (cids) => this.#store.blocks(did, cids))
    const nodes = new NodeStore(source)
    const stack = [head.dataCid]
    while (stack.length > 0) {
      const cid = stack.pop()!
      if (reachable.has(cid)) continue
      if (!(await source.has(cid))) continue
      reachable.add(cid)
      const node = await nodes.get(cid)
      for (const v of node.values) reachable.add(v.$link)
      for (const s of node.subtrees) if (s) stack.push(s.$link)
    }
    let removed = 0
    let after: Uint8Array | null = null
    for (;;) {
      const page = await this.#store.blockCids(did, after, PAGE)
      if (page.length === 0) break
      const unreached = page.filter((c) => !reachable.has(cidFromBytes(c)))
      removed += await this.#store.deleteBlocks(did, unreached)
      after = page.at(-1)!
      if (page.length < PAGE) break
    }
    return { removed, kept: reachable.size }
  }

  #exclusive<T>(did: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#writing.get(did) ?? Promise.resolve()).then(fn, fn)
    const tail = run.catch(() => {})
    this.#writing.set(did, tail)
    void tail.then(() => {
      if (this.#writing.get(did) === tail) this.#writing.delete(did)
    })
    return run
  }

  async #write(
    did: string,
    head: RepoHead,
    blocks: ReadonlyMap<string, Uint8Array>,
    anyRev: boolean,
    proven?: TreeChange,
    useRemembered = true,
  ): Promise<ApplyOutcome> {
    const remembered = useRemembered ? this.#heads.get(did) : undefined
    const stored: HeadRef | undefined = remembered ?? (await this.#store.head(did))
    if (stored && !anyRev && stored.rev >= head.rev) return { ok: true, applied: false }
    if (stored && stored.commitCid === head.commitCid) return { ok: true, applied: false }
    // The store writes only over the head the change was worked out from. A remembered head can
    // be wrong only if the database lost writes it had acknowledged (a crash with PostgreSQL's
    // asynchronous commit): then the head is read and the commit worked out again.
    const retry = (): Promise<ApplyOutcome> => {
      if (remembered === undefined)
        throw new Error(`the stored head of ${did} changed during its write`)
      return this.#write(did, head, blocks, anyRev, proven, false)
    }
    const known = stored && proven && changeFrom(head, blocks, stored.dataCid, proven)
    if (known) {
      if (!(await this.#applyChange(did, known, stored))) return retry()
      this.stats.commitsWithoutDiff++
      return { ok: true, applied: true }
    }
    const out = await mirrorChange({
      previousRoot: stored?.dataCid ?? null,
      head,
      blocks,
      // The head's row id is known: each node read is one query.
      stored: (cids) =>
        stored ? this.#store.blocksOfRepo(stored.id, cids) : Promise.resolve(new Map()),
    })
    if (!out.ok) return out
    if (!(await this.#applyChange(did, out.change, stored))) return retry()
    return { ok: true, applied: true }
  }

  /**
   * Writes a change over the stored head it was worked out from, and remembers the new head (a
   * new repo's id is read on its next write). False, with nothing written, when the store holds
   * another head.
   */
  async #applyChange(
    did: string,
    change: RepoChange,
    stored: HeadRef | undefined,
  ): Promise<boolean> {
    this.#heads.delete(did)
    const written = await this.#store.apply(did, change, stored)
    if (!written || stored === undefined) return written
    const { rev, commitCid, dataCid } = change.head
    this.#heads.set(did, { id: stored.id, rev, commitCid, dataCid })
    return true
  }
}
