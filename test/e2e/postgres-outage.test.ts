// A PostgreSQL outage under load (issue 11). The relay reaches its database through a TCP proxy
// the test cuts for several seconds while two PDSes keep sending: one with accounts the relay
// already knows, one whose accounts it first sees during the outage. While the database is gone
// the relay says so (/xrpc/_health 503 naming the database) and does not fall over; when it
// returns, every commit emitted before, during and after the outage reaches a consumer exactly
// once, in each account's order, with the relay's seqs contiguous from 1, and a checkpoint succeeds
// again (the hosts' stored cursors move on). Then the same with account shards and a host
// thread. Runs when RELAY_TEST_POSTGRES_URL names a server (CI starts one); skipped otherwise.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { CommitStream, raiseEventLimits } from '../support/commit-stream.ts'
import { FakePds } from '../support/fake-pds.ts'
import { PG_URL, tempPostgres } from '../support/pg-temp.ts'
import {
  Consumer,
  eventually,
  HOST_THREAD_FLAGS,
  startTestRelay,
} from '../support/relay-harness.ts'
import { TcpProxy } from '../support/tcp-proxy.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test(
  'a database outage under load: the relay says so, loses nothing, and resumes',
  {
    skip: PG_URL ? false : 'RELAY_TEST_POSTGRES_URL is not set',
    timeout: 180_000,
  },
  () => outage([]),
)

// With account shards and a host thread: each shard waits on its own connections, the host
// thread's flow control holds the sockets meanwhile, and the shards' checkpoints resume.
test(
  'a database outage under load, with account shards and a host thread: the same',
  {
    skip: PG_URL ? false : 'RELAY_TEST_POSTGRES_URL is not set',
    timeout: 180_000,
  },
  () => outage([...HOST_THREAD_FLAGS]),
)

async function outage(extra: string[]): Promise<void> {
  await using db = await tempPostgres()
  const target = new URL(db.url)
  const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432))
  const viaProxy = new URL(db.url)
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(proxy.port)
  const plc = await startMockPlc({})
  const known = await FakePds.start()
  const fresh = await FakePds.start()
  const before = new CommitStream(known, plc, 'abc')
  const during = new CommitStream(fresh, plc, 'xyz')
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags: ['--db-url', viaProxy.toString(), ...extra],
  })
  try {
    assert.equal(relay.relay.db.dialect, 'postgres')
    for (const pds of [known, fresh]) {
      assert.equal((await relay.crawl(pds.hostname)).status, 200)
      await raiseEventLimits(relay.url, pds.hostname)
    }
    await eventually(
      () => known.subscriberCount === 1 && fresh.subscriberCount === 1,
      10_000,
      'subscribed to both',
    )
    const consumer = new Consumer(relay.wsUrl, 0)
    await consumer.opened()
    before.start(15)
    await eventually(() => relay.relay.log.flushedSeq >= 30, 30_000, '30 commits before')
    const knownHost = relay.relay.hosts.byHostname(known.hostname)!.id
    const cursorAtCut = relay.relay.hosts.connection(knownHost)?.cursor ?? 0

    // The database goes away for a while; both PDSes keep sending.
    proxy.cut()
    await eventually(
      async () => (await fetch(`${relay.url}/xrpc/_health`)).status === 503,
      20_000,
      'health reports the outage',
    )
    const health = JSON.stringify(await (await fetch(`${relay.url}/xrpc/_health`)).json())
    assert.match(health, /database/)
    assert.doesNotMatch(health, /127\.0\.0\.1|postgres:/, 'no connection details on a public route')
    await during.produce(12) // accounts the relay has never seen
    await sleep(4000)
    assert.equal((await fetch(`${relay.url}/xrpc/_health`)).status, 503, 'still down, still up')

    proxy.restore()
    await eventually(
      async () => (await fetch(`${relay.url}/xrpc/_health`)).status === 200,
      60_000,
      'health back once the database is',
    )
    await during.produce(5)
    await sleep(300)
    await before.stop()
    const total = before.emitted.length + during.emitted.length
    await consumer
      .until(
        () => consumer.messages().filter((m) => m.type === '#commit').length >= total,
        60_000,
        `all ${total} commits`,
      )
      .catch((err: Error) => {
        const freshHost = relay.relay.hosts.byHostname(fresh.hostname)!.id
        const state = {
          drops: Object.fromEntries(relay.relay.drops.totals()),
          fresh: relay.relay.hosts.connection(freshHost),
          known: relay.relay.hosts.connection(knownHost),
          flushed: relay.relay.log.flushedSeq,
        }
        throw new Error(`${err.message}; ${JSON.stringify(state)}`)
      })
    await sleep(500) // a duplicate, if any, would arrive now
    const commits = consumer.messages().filter((m) => m.type === '#commit')
    const cids = commits.map((m) => (m.body.commit as { $link: string }).$link)
    assert.equal(cids.length, total, 'no duplicate')
    assert.deepEqual(new Set(cids), new Set([...before.emitted, ...during.emitted]), 'none lost')
    // Each account's commits in its own order (accounts of one host may interleave: the relay
    // orders events per account). A stream's commits go round the accounts in turn.
    for (const stream of [before, during]) {
      const order = new Map(stream.emitted.map((cid, i) => [cid, i]))
      for (let r = 0; r < stream.repos.length; r++) {
        const n = stream.repos.length
        const seen = cids.filter((c) => order.get(c) !== undefined && order.get(c)! % n === r)
        const emitted = stream.emitted.filter((_, i) => i % n === r)
        assert.deepEqual(seen, emitted, `${stream.repos[r]!.did} in order`)
      }
    }
    const seqs = consumer.messages().map((m) => m.body.seq as number)
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
    )
    // Checkpoints work again: the cursor stored in the database (read directly, not the relay's
    // memory) moves past where it was at the cut.
    const storedCursor = async (): Promise<number> => {
      const c = new pg.Client({ connectionString: db.url })
      await c.connect()
      try {
        const r = await c.query('select cursor from host where hostname = $1', [known.hostname])
        return Number(r.rows[0]?.cursor ?? 0)
      } finally {
        await c.end()
      }
    }
    await eventually(
      async () => (await storedCursor()) > cursorAtCut,
      30_000,
      'a checkpoint after the outage',
    )
    // The waiting really happened (events met the database away and were tried again).
    const metrics = await (
      await fetch(`http://127.0.0.1:${relay.relay.metricsAddress()!.port}/metrics`)
    ).text()
    const retries = Number(/^relay_ingest_retries_total (\d+)/m.exec(metrics)?.[1] ?? 0)
    assert.ok(retries > 0, 'events waited for the database')
    assert.match(metrics, /^relay_ingest_errors_total 0$/m)
    assert.ok(proxy.cuts === 1)
    consumer.close()
  } finally {
    await before.stop()
    await relay.close()
    await proxy.close()
    await known.close()
    await fresh.close()
    await plc.close()
  }
}
