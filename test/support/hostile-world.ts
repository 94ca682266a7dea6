// The stage for the hostile-host tests: a real relay (short upstream timings so silent and
// stalling hosts are caught in seconds), a PLC directory, one honest PDS writing signed commits,
// and a consumer on the relay's firehose. Each test adds hostile PDSes and checks, after each
// fault, that the honest host's next commit still reaches the consumer (other hosts unaffected),
// and reads the relay's per-host drop counters from /metrics.
import assert from 'node:assert/strict'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import type { RelayOverrides } from '../../src/relay.ts'
import { testDidDocument } from './did-doc.ts'
import { FakePds } from './fake-pds.ts'
import { HostilePds, type Script } from './hostile-pds.ts'
import { generateKeypair } from './keypair.ts'
import { ADMIN_KEY, Consumer, eventually, startTestRelay, type TestRelay } from './relay-harness.ts'
import { messageFrame, TestRepo } from './test-repo.ts'

/** Upstream timings short enough for a test, long enough for a loaded 2-core machine. */
export const HOSTILE_TIMINGS = {
  pingIntervalMs: 1000,
  frameTimeoutMs: 2000,
  connectTimeoutMs: 3000,
  backoff: { initialMs: 100, maxMs: 1000 },
} as const

export class HostileWorld {
  readonly plc: MockPlc
  readonly honest: FakePds
  readonly relay: TestRelay
  readonly consumer: Consumer
  readonly #honestRepo: TestRepo
  readonly #hostiles: HostilePds[] = []
  #honestSeq = 0
  #accounts = 0

  private constructor(
    plc: MockPlc,
    honest: FakePds,
    relay: TestRelay,
    repo: TestRepo,
    c: Consumer,
  ) {
    this.plc = plc
    this.honest = honest
    this.relay = relay
    this.#honestRepo = repo
    this.consumer = c
  }

  /** `flags`: more relay flags (e.g. account shards and host threads). */
  static async start(overrides: RelayOverrides = {}, flags: string[] = []): Promise<HostileWorld> {
    const plc = await startMockPlc({})
    const honest = await FakePds.start()
    const relay = await startTestRelay({
      plcUrl: plc.url,
      flags,
      overrides: {
        upstreamTimings: HOSTILE_TIMINGS,
        futureCursorResets: { count: 1, afterMs: 0 },
        ...overrides,
      },
    })
    const repo = await HostileWorld.#account(plc, honest.url, 'honest')
    const consumer = new Consumer(relay.wsUrl)
    await consumer.opened()
    const world = new HostileWorld(plc, honest, relay, repo, consumer)
    assert.equal((await relay.crawl(honest.hostname)).status, 200)
    await eventually(() => honest.subscriberCount === 1, 10_000, 'relay subscribed to honest')
    await world.honestStillFlows()
    return world
  }

  static async #account(plc: MockPlc, pdsUrl: string, name: string): Promise<TestRepo> {
    const did = `did:plc:${name.padEnd(24, 'z').slice(0, 24)}`
    const repo = new TestRepo(did, generateKeypair('k256'))
    plc.setDocument(
      did,
      testDidDocument(did, pdsUrl, {
        handle: `${name}.test`,
        publicKeyMultibase: repo.keypair.publicKeyMultibase,
      }),
    )
    return repo
  }

  /** An account whose DID document names `pds` as its host. */
  async account(pds: { url: string }): Promise<TestRepo> {
    // did:plc identifiers are base32 (a-z, 2-7): the account number is spelled in letters.
    const name = `acct${[...String(++this.#accounts)].map((d) => 'abcdefghij'[Number(d)]).join('')}`
    return HostileWorld.#account(this.plc, pds.url, name)
  }

  /** A hostile PDS the relay is told to crawl (admin route: no new-host limit). */
  async hostile(script: Script, opts: { crawl?: boolean } = {}): Promise<HostilePds> {
    const pds = await HostilePds.start(script)
    this.#hostiles.push(pds)
    if (opts.crawl !== false) {
      const res = await this.relay.crawl(pds.hostname)
      assert.equal(res.status, 200, await res.text())
    }
    return pds
  }

  /**
   * A hostile PDS limited to `perSecond` events a second before it sends anything (the crawl
   * dials before a limit can be set, so its first connection waits for the limit), which then
   * sends at once, on its first connection, the frames `prepare` made (given the PDS, for
   * accounts hosted there). Resolves once the relay paused it.
   */
  async flooding(
    perSecond: number,
    prepare: (pds: HostilePds) => Promise<Iterable<Uint8Array>> | Iterable<Uint8Array>,
  ): Promise<HostilePds> {
    const pausesBefore = await this.value('relay_upstream_rate_pauses_total')
    let limitSet: () => void = () => {}
    const limited = new Promise<void>((resolve) => {
      limitSet = resolve
    })
    let frames: Iterable<Uint8Array> = []
    const pds = await this.hostile(
      async (conn, p) => {
        if (p.connections.length > 1) return
        await limited
        for (const f of frames) conn.send(f)
      },
      { crawl: false },
    )
    frames = await prepare(pds)
    assert.equal((await this.relay.crawl(pds.hostname)).status, 200)
    const limit = await this.admin('/admin/pds/changeLimits', {
      host: pds.hostname,
      per_second: perSecond,
    })
    assert.equal(limit.status, 200, await limit.text())
    limitSet()
    await eventually(
      async () => (await this.value('relay_upstream_rate_pauses_total')) > pausesBefore,
      20_000,
      `${pds.hostname} paused by its limit`,
    )
    return pds
  }

  /** The honest host writes one commit; it reaches the consumer. */
  async honestStillFlows(what = 'honest commit'): Promise<void> {
    const seq = ++this.#honestSeq
    const msg = await this.#honestRepo.commit(
      [{ action: 'create', path: `app.bsky.feed.post/3l${String(seq).padStart(11, '0')}` }],
      { seq },
    )
    this.honest.emit(seq, messageFrame(msg))
    const rev = msg.rev
    await this.consumer.until(
      () => this.consumer.messages().some((m) => m.type === '#commit' && m.body.rev === rev),
      20_000,
      `${what} delivered`,
    )
  }

  /** Commits the consumer received for `did`, as their `rev`s in arrival order. */
  revsOf(did: string): string[] {
    return this.consumer
      .messages()
      .filter((m) => m.type === '#commit' && m.body.repo === did)
      .map((m) => m.body.rev as string)
  }

  async metrics(): Promise<string> {
    const port = this.relay.relay.metricsAddress()!.port
    return (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  }

  /** relay_host_events_dropped_total for one host and reason (0 when absent). */
  async drops(pds: { hostname: string }, reason: string): Promise<number> {
    const text = await this.metrics()
    for (const line of text.split('\n')) {
      if (!line.startsWith('relay_host_events_dropped_total{')) continue
      if (!line.includes(`host="${pds.hostname}"`) || !line.includes(`reason="${reason}"`)) continue
      return Number(line.slice(line.lastIndexOf(' ') + 1))
    }
    return 0
  }

  /** Waits until the host's drop counter for `reason` reaches `atLeast`. */
  async dropped(pds: { hostname: string }, reason: string, atLeast = 1): Promise<void> {
    await eventually(
      async () => (await this.drops(pds, reason)) >= atLeast,
      20_000,
      `${atLeast} ${reason} drop(s) from ${pds.hostname}`,
    )
  }

  /** A counter or gauge without labels (0 when absent). */
  async value(name: string): Promise<number> {
    const line = (await this.metrics()).split('\n').find((l) => l.startsWith(`${name} `))
    return line === undefined ? 0 : Number(line.slice(name.length + 1))
  }

  async admin(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.relay.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify(body),
    })
  }

  async close(): Promise<void> {
    this.consumer.close()
    await this.relay.close()
    for (const h of this.#hostiles) await h.close()
    await this.honest.close()
    await this.plc.close()
  }
}
