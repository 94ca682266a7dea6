// Strict per-account order (docs/design.md §3): tasks for one DID run one after another, in the order
// they were submitted; tasks for different DIDs run concurrently. Holds one promise per DID with
// work pending, so memory is bounded by the events in flight (which the caller bounds per host).
export class AccountSerializer {
  readonly #tails = new Map<string, Promise<void>>()

  get pendingAccounts(): number {
    return this.#tails.size
  }

  /** Runs `task` after every earlier task for `did`. `task` must not throw. */
  run(did: string, task: () => Promise<void>): Promise<void> {
    const prev = this.#tails.get(did)
    const next = prev ? prev.then(task) : task()
    this.#tails.set(did, next)
    void next.finally(() => {
      if (this.#tails.get(did) === next) this.#tails.delete(did)
    })
    return next
  }

  /** Resolves when every task submitted so far has finished. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()])
  }
}
