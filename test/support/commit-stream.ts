// A steady stream of real signed commits for the reliability tests: a few accounts whose DID
// documents the mock PLC serves (key and PDS endpoint), each commit made by a TestRepo and
// emitted by the fake PDS with the next upstream seq. Remembers every commit CID it emitted, so a
// test can check that each one reached consumers exactly once.
import { BytesWrapper } from '@atcute/cbor'
import type { MockPlc } from '../../src/identity/testing/mock-plc.ts'
import { publishRepos } from './did-doc.ts'
import type { FakePds } from './fake-pds.ts'
import { generateKeypair } from './keypair.ts'
import { ADMIN_KEY } from './relay-harness.ts'
import { messageFrame, TestRepo } from './test-repo.ts'

export class CommitStream {
  readonly repos: TestRepo[]
  readonly #pds: FakePds
  /** Commit CIDs in the order the PDS emitted them. */
  readonly emitted: string[] = []
  upstreamSeq = 0
  #steady: Promise<void> | null = null
  #running = false
  #queue: Promise<void> = Promise.resolve()

  /** One account per letter of `letters` (its DID is the letter 24 times, as did:plc). */
  constructor(pds: FakePds, plc: MockPlc, letters: string) {
    this.#pds = pds
    this.repos = [...letters].map(
      (l) => new TestRepo(`did:plc:${l.repeat(24)}`, generateKeypair('k256')),
    )
    publishRepos(plc, this.repos, pds.url, (did) => `${did.slice(8, 14)}.test`)
  }

  /**
   * Emits `n` commits, one record each (of about `recordBytes` bytes when given). Calls run one
   * after another (a repo makes one commit at a time, and upstream seqs go up in emit order).
   */
  produce(n: number, recordBytes = 0): Promise<void> {
    const run = this.#queue.then(() => this.#produce(n, recordBytes))
    this.#queue = run.catch(() => {})
    return run
  }

  async #produce(n: number, recordBytes: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const no = this.emitted.length
      const repo = this.repos[no % this.repos.length]!
      const record =
        recordBytes > 0
          ? { data: new BytesWrapper(new Uint8Array(recordBytes).fill(no % 251)) }
          : undefined
      const seq = this.upstreamSeq + 1
      const msg = await repo.commit(
        [
          {
            action: 'create',
            path: `app.bsky.feed.post/3l${String(no).padStart(11, '0')}`,
            record,
          },
        ],
        { seq },
      )
      this.upstreamSeq = seq
      this.emitted.push(msg.commit.$link)
      this.#pds.emit(seq, messageFrame(msg))
    }
  }

  /** Emits one commit every `intervalMs` until `stop`. */
  start(intervalMs: number): void {
    if (this.#running) return
    this.#running = true
    this.#steady = (async () => {
      while (this.#running) {
        await this.produce(1)
        await new Promise((r) => setTimeout(r, intervalMs))
      }
    })()
  }

  async stop(): Promise<void> {
    this.#running = false
    await this.#steady
    this.#steady = null
  }
}

/**
 * Lifts a host's event limits (admin changeLimits) so that a long steady stream is never held
 * back by the default hourly limit for a host with few accounts.
 */
export async function raiseEventLimits(relayUrl: string, hostname: string): Promise<void> {
  const res = await fetch(`${relayUrl}/admin/pds/changeLimits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({
      host: hostname,
      per_second: 10_000,
      per_hour: 1_000_000_000,
      per_day: 1_000_000_000,
    }),
  })
  if (res.status !== 200) throw new Error(`changeLimits: ${res.status} ${await res.text()}`)
}
