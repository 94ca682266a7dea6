// The hosts' getRepo and listRepos (`--serve-repos`): each account's repo as of the events sent
// so far, built from its starting repo (repos.bin) and the blocks of its commits already sent, as
// a PDS would export it: the newest commit first, then only the blocks of its current tree. So a
// relay's mirror that resyncs or repairs an account gets a base the account's next cached
// commits continue.
// Deliberately simple: built on each request (a relay asks once per account), not kept up to
// date as events go out.
import { decode } from '@atcute/cbor'
import { MemoryBlockStore, NodeStore } from '@atcute/mst'
import { encodeCarSlice, readCarSlice } from '../../src/protocol/car.ts'
import { decodeFrame } from '../../src/protocol/frame.ts'
import { type CommitMessage, parseMessage } from '../../src/protocol/messages.ts'
import { didOf, KIND, type PlannedEvent } from './workload.ts'

export class WorkloadRepos {
  readonly #starts: readonly Uint8Array[]
  readonly #frames: readonly Uint8Array[]
  /** Per account number, its commits' event numbers in order. */
  readonly #commitsOf = new Map<number, number[]>()
  readonly #accountOf = new Map<string, number>()

  constructor(
    starts: readonly Uint8Array[],
    schedule: readonly PlannedEvent[],
    frames: readonly Uint8Array[],
  ) {
    this.#starts = starts
    this.#frames = frames
    for (let a = 0; a < starts.length; a++) this.#accountOf.set(didOf(a), a)
    for (const e of schedule) {
      if (e.i >= frames.length) break
      if (e.kind !== KIND.commit) continue
      const list = this.#commitsOf.get(e.account)
      if (list) list.push(e.i)
      else this.#commitsOf.set(e.account, [e.i])
    }
  }

  /**
   * A page of the accounts on workload host `host` (of `hosts`), by DID, with their heads as of
   * the events numbered below `sent`: listRepos. The cursor is the last DID of the page.
   */
  list(
    host: number,
    hosts: number,
    cursor: string | null,
    limit: number,
    sent: number,
  ): { repos: { did: string; head: string; rev: string; active: true }[]; cursor?: string } {
    const dids: string[] = []
    for (const [did, a] of this.#accountOf) if (a % hosts === host) dids.push(did)
    dids.sort()
    const page = dids.filter((d) => cursor === null || d > cursor).slice(0, limit)
    const repos = page.map((did) => ({
      did,
      ...this.#head(this.#accountOf.get(did)!, sent),
      active: true as const,
    }))
    return page.length === limit ? { repos, cursor: page.at(-1)! } : { repos }
  }

  #head(account: number, sent: number): { head: string; rev: string } {
    const last = this.#sentCommits(account, sent).at(-1)
    if (last) return { head: last.commit.$link, rev: last.rev }
    const start = readCarSlice(this.#starts[account]!)
    const head = start.roots[0]!
    return { head, rev: (decode(start.blocks.get(head)!) as { rev: string }).rev }
  }

  /** The account's commits among the events numbered below `sent`, in order. */
  #sentCommits(account: number, sent: number): CommitMessage[] {
    const out: CommitMessage[] = []
    for (const i of this.#commitsOf.get(account) ?? []) {
      if (i >= sent) break
      const frame = decodeFrame(this.#frames[i]!)
      const msg = frame.op === 1 ? parseMessage(frame) : null
      if (msg?.type === '#commit') out.push(msg)
    }
    return out
  }

  /** The repo of `did` after every event numbered below `sent`; undefined for an unknown DID. */
  async car(did: string, sent: number): Promise<Uint8Array | undefined> {
    const account = this.#accountOf.get(did)
    if (account === undefined) return undefined
    const start = readCarSlice(this.#starts[account]!)
    const blocks = new Map(start.blocks)
    let root = start.roots[0]!
    for (const msg of this.#sentCommits(account, sent)) {
      for (const [cid, bytes] of readCarSlice(msg.blocks).blocks) blocks.set(cid, bytes)
      root = msg.commit.$link
    }
    const store = new MemoryBlockStore()
    for (const [cid, bytes] of blocks) await store.put(cid, bytes as Uint8Array<ArrayBuffer>)
    const nodes = new NodeStore(store)
    const commit = blocks.get(root)!
    const out: [string, Uint8Array][] = [[root, commit]]
    const visit = async (cid: string): Promise<void> => {
      out.push([cid, blocks.get(cid)!])
      const node = await nodes.get(cid)
      for (const v of node.values) out.push([v.$link, blocks.get(v.$link)!])
      for (const sub of node.subtrees) if (sub) await visit(sub.$link)
    }
    await visit((decode(commit) as { data: { $link: string } }).data.$link)
    return encodeCarSlice([root], out)
  }
}
