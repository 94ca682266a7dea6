// A read-only block store (the interface @atcute/mst's tree walks read through) over a repo's
// blocks: first the blocks in hand (a commit's CAR slice, or a whole repo being imported), then
// the repo's stored blocks, then the empty tree's node (a repo's "previous tree" before its first
// commit). Reads of the store are remembered, so a walk that meets a node twice reads it once.
// Writes are refused: tree walks here only read.
// Deliberately not here: which blocks a change needs (mirror-change.ts).
import { encode } from '@atcute/cbor'
import type { BlockMap, BlockStore } from '@atcute/mst'
import { EMPTY_MST_ROOT } from '../verify/mst-edit.ts'

const EMPTY_NODE = encode({ l: null, e: [] })

export type StoredBlocks = (cids: string[]) => Promise<Map<string, Uint8Array>>

export class BlockSource implements BlockStore {
  readonly #inHand: ReadonlyMap<string, Uint8Array>
  readonly #stored: StoredBlocks
  readonly #read = new Map<string, Uint8Array | null>()

  constructor(inHand: ReadonlyMap<string, Uint8Array>, stored: StoredBlocks) {
    this.#inHand = inHand
    this.#stored = stored
  }

  /** Whether `cid` came from the blocks in hand (a block the change brings). */
  inHand(cid: string): boolean {
    return this.#inHand.has(cid)
  }

  async get(cid: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const hand = this.#inHand.get(cid)
    if (hand) return hand as Uint8Array<ArrayBuffer>
    if (!this.#read.has(cid)) {
      const found = (await this.#stored([cid])).get(cid)
      this.#read.set(cid, found ?? (cid === EMPTY_MST_ROOT ? EMPTY_NODE : null))
    }
    return (this.#read.get(cid) ?? null) as Uint8Array<ArrayBuffer> | null
  }

  async getMany(cids: string[]): Promise<{ found: BlockMap; missing: string[] }> {
    const found: BlockMap = new Map()
    const missing: string[] = []
    for (const cid of cids) {
      const b = await this.get(cid)
      if (b) found.set(cid, b)
      else missing.push(cid)
    }
    return { found, missing }
  }

  async has(cid: string): Promise<boolean> {
    return (await this.get(cid)) !== null
  }

  put(): Promise<void> {
    return Promise.reject(new Error('BlockSource is read-only'))
  }
  putMany(): Promise<void> {
    return this.put()
  }
  delete(): Promise<void> {
    return this.put()
  }
  deleteMany(): Promise<void> {
    return this.put()
  }
}
