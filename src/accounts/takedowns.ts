// The set of taken-down accounts (docs/design.md §4 item 16), kept in memory so the firehose can skip
// their past events on replay and their live events (fanout's `isHidden`), loaded at start from
// the accounts whose local status is `takendown`.
export class Takedowns {
  readonly #dids = new Set<string>()

  async load(
    page: (afterDid: string | null, limit: number) => Promise<readonly { did: string }[]>,
  ): Promise<void> {
    let after: string | null = null
    for (;;) {
      const rows = await page(after, 1000)
      for (const r of rows) this.#dids.add(r.did)
      if (rows.length < 1000) return
      after = rows.at(-1)!.did
    }
  }

  has(did: string): boolean {
    return this.#dids.has(did)
  }

  add(did: string): void {
    this.#dids.add(did)
  }

  delete(did: string): void {
    this.#dids.delete(did)
  }

  /**
   * Hides `did` while `takeDown` runs (it waits for the account's turn, and nothing of it may be
   * served meanwhile), and shows it again if there was nothing to take down (an unknown
   * account). One that failed stays hidden: its status may have been written before the
   * failure, and a takedown errs on the side of hiding.
   */
  async hideWhile(did: string, takeDown: () => Promise<boolean>): Promise<boolean> {
    this.#dids.add(did)
    const done = await takeDown()
    if (!done) this.#dids.delete(did)
    return done
  }

  /** Sorted page of taken-down DIDs after `cursor`. */
  page(cursor: string | null, limit: number): { dids: string[]; cursor?: string } {
    const all = [...this.#dids].sort()
    const start = cursor === null ? 0 : all.findIndex((d) => d > cursor)
    const dids = start < 0 ? [] : all.slice(start, start + limit)
    return dids.length === limit && start + limit < all.length
      ? { dids, cursor: dids.at(-1)! }
      : { dids }
  }

  get size(): number {
    return this.#dids.size
  }
}
