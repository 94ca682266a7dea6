// The order a shard takes its messages in when host threads feed it events beside the main
// thread's batches and calls (docs/scaling.md, stage 2). Messages on two channels have no order
// between them, so where one side's messages must come first they are taken off their channel
// at once (`take`, the worker's `receiveMessageOnPort`):
// - a call runs after every host thread's event posted before it (the main thread's rule: a
//   call comes after the events handed in before it; `idle` and the checkpoint's snapshot rely
//   on it);
// - a batch with an event of a host the shard has no view of takes the main thread's messages
//   first: the main thread shares a host's view before its thread may dial it;
// - calls keep the order they were sent in, and none runs in the middle of a batch: calls taken
//   while a batch waits for a view, or while a call takes the host threads' events, wait in one
//   queue behind the call or batch in hand. The main thread's batches taken meanwhile are not
//   queued: they may pass a call sent before them. With host threads they carry no events (views
//   and answers only), so nothing a call waits for can be reordered by it.
// Deliberately not here: the ports themselves (shard-worker.ts), what the messages mean
// (account-shard.ts).
import type { HostEvents, ShardCall, ToShard } from './shard-messages.ts'

/** A channel's next message, taken at once; undefined when none waits. */
export interface InboxPort<M> {
  take(): M | undefined
}

export interface ShardInboxDeps {
  readonly main: InboxPort<ToShard>
  readonly hosts: readonly InboxPort<HostEvents>[]
  knowsHost(hostId: number): boolean
  /** A batch of events (a host thread's), or the main thread's batch. */
  receive(batch: Exclude<ToShard, ShardCall | { close: true }> | HostEvents): void
  call(c: ShardCall): void
  /** The main thread asked the shard to end. */
  close(): void
}

export class ShardInbox {
  readonly #d: ShardInboxDeps
  /** Calls in the order they came, waiting for the host threads' events posted before them. */
  readonly #calls: ShardCall[] = []
  /** A call or a batch is in hand: messages taken now wait behind it. */
  #taking = false

  constructor(deps: ShardInboxDeps) {
    this.#d = deps
  }

  /** A message of the main thread, as its channel delivered it. */
  fromMain(m: ToShard): void {
    if ('call' in m) {
      this.#calls.push(m)
      if (!this.#taking) this.#runCalls()
      return
    }
    if ('close' in m) this.#d.close()
    else this.#d.receive(m)
  }

  /** A host thread's batch, as its channel delivered it. */
  fromHosts(m: HostEvents): void {
    if (!m.events.some((e) => !this.#d.knowsHost(e[0]))) {
      this.#d.receive(m)
      return
    }
    const outer = this.#taking
    this.#taking = true
    try {
      for (let next = this.#d.main.take(); next !== undefined; next = this.#d.main.take()) {
        this.fromMain(next)
      }
    } finally {
      this.#taking = outer
    }
    this.#d.receive(m)
    if (!outer && this.#calls.length > 0) this.#runCalls()
  }

  #runCalls(): void {
    this.#taking = true
    try {
      for (let c = this.#calls.shift(); c !== undefined; c = this.#calls.shift()) {
        for (const port of this.#d.hosts) {
          for (let next = port.take(); next !== undefined; next = port.take()) {
            this.fromHosts(next)
          }
        }
        this.#d.call(c)
      }
    } finally {
      this.#taking = false
    }
  }
}
