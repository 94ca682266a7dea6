// Work that is asked for many times in one turn of the event loop and done once at its end: how
// a thread gathers what it sends another into one message per turn (the account shards and the
// host threads, both ways). `now` does it at once, where an order between messages needs it; a
// run already queued then finds nothing more to do and does not run again.
// Deliberately not here: what is sent (each owner's `run`).

export class EndOfTurn {
  readonly #run: () => void
  #queued = false

  constructor(run: () => void) {
    this.#run = run
  }

  /** `run` at the end of this turn, once however often this is called. */
  queue(): void {
    if (this.#queued) return
    this.#queued = true
    setImmediate(() => {
      if (this.#queued) this.now()
    })
  }

  /** `run` at once (a queued run is then not made). */
  now(): void {
    this.#queued = false
    this.#run()
  }
}
