// Archival mode end to end against the reference PDS (`@atproto/dev-env`), on SQLite and, when
// RELAY_TEST_POSTGRES_URL names a server, on PostgreSQL (relay state and archive both there).
// Every check of what the relay serves is independent of the relay's code (archive-check.ts: the
// reference repo library verifies each CAR and proof, and compares with the PDS's own answers).
// 1. Accounts exist and write hundreds of records before the relay is started: it holds nothing.
//    A whole-host resync (`sync_pds.sh`'s route) at a crawl rate of 1 repo/s is interrupted by a
//    relay restart and finishes after it; then every repo equals the PDS's, record by record.
// 2. Live writes and deletions reach the mirror from the firehose; getRecord proves presence and
//    absence; getRepo `since` holds only what came after; getBlocks answers the PDS's bytes.
// 3. A forced chain break (the relay made to skip events: blocked, cursor reset to the live head,
//    unblocked) marks the account desynchronized and it is repaired without an operator.
// 4. Many updates and deletions, then compaction: the served repos are unchanged; on SQLite the file shrinks,
//    on PostgreSQL its VACUUM frees the space for reuse (recorded in the free-space maps).
// 5. A takedown deletes the account's mirrored repo; reversing it brings it back by repair. An
//    account deleted on its PDS is deleted from the mirror.
// 6. The default mode (no archive) on the same PDS: the same forced chain break is repaired by
//    the account's latest signed commit, announced as #sync; getRepo still redirects to the PDS.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AtpAgent } from '@atproto/api'
import pg from 'pg'
import {
  admin,
  assertMirrorEqualsPds,
  assertRecordProof,
  carBlocks,
  fetchBytes,
  mirrorAtPdsHead,
} from '../support/archive-check.ts'
import {
  createDevAccount,
  type DevAccount,
  type DevPds,
  startDevNetwork,
} from '../support/atproto-dev.ts'
import { PG_URL, tempPostgres } from '../support/pg-temp.ts'
import {
  Consumer,
  eventually,
  MAIN_THREAD_VERIFY,
  startTestRelay,
  type TestRelay,
} from '../support/relay-harness.ts'

const STEP_MS = 30_000
const now = () => new Date().toISOString()

/** Writes `n` posts in batches of one applyWrites call each; returns their paths. */
async function writePosts(a: DevAccount, n: number, label: string): Promise<string[]> {
  const paths: string[] = []
  for (let done = 0; done < n; ) {
    const batch = Math.min(50, n - done)
    const res = await a.agent.com.atproto.repo.applyWrites({
      repo: a.did,
      writes: Array.from({ length: batch }, (_, i) => ({
        $type: 'com.atproto.repo.applyWrites#create' as const,
        collection: 'app.bsky.feed.post',
        value: { $type: 'app.bsky.feed.post', text: `${label} ${done + i}`, createdAt: now() },
      })),
    })
    for (const r of res.data.results ?? []) {
      const uri = (r as { uri?: string }).uri
      if (uri) paths.push(uri.split('/').slice(-2).join('/'))
    }
    done += batch
  }
  return paths
}

async function putProfile(agent: AtpAgent, did: string, name: string): Promise<void> {
  await agent.com.atproto.repo.putRecord({
    repo: did,
    collection: 'app.bsky.actor.profile',
    rkey: 'self',
    record: { $type: 'app.bsky.actor.profile', displayName: name },
  })
}

/** Waits until the relay has processed everything the PDS has sequenced. */
async function settle(relay: TestRelay, pds: DevPds): Promise<void> {
  const head = await pds.headSeq()
  const id = relay.relay.hosts.byHostname(pds.hostname)!.id
  await eventually(
    () => (relay.relay.hosts.connection(id)?.cursor ?? 0) >= head,
    STEP_MS,
    `relay processed ${pds.hostname} up to ${head}`,
  )
  await relay.relay.ingest.idle()
}

/** Makes the relay miss the account's next writes: what a lost stretch of firehose does. */
async function forceChainBreak(relay: TestRelay, pds: DevPds, a: DevAccount): Promise<void> {
  const host = { host: pds.hostname }
  const id = relay.relay.hosts.byHostname(pds.hostname)!.id
  const call = async (path: string, query: Record<string, string>) =>
    assert.equal((await admin(relay.url, 'POST', path, { query })).status, 200, path)
  const subscribers = pds.liveSubscribers()
  await call('/admin/subs/killUpstream', { ...host, block: 'true' })
  // Cut off once the PDS itself has let go of the relay's stream (a closing socket still
  // delivers what the PDS sent before it saw the close).
  await eventually(() => pds.liveSubscribers() < subscribers, STEP_MS, 'the PDS let go')
  await writePosts(a, 3, 'while the relay was away')
  const missed = await pds.headSeq()
  await eventually(() => pds.emittedSeq() >= missed, STEP_MS, 'the PDS streamed the writes')
  await call('/admin/pds/resetCursor', host)
  await call('/admin/pds/unblock', host)
  await eventually(() => relay.relay.hosts.connection(id)?.connected === true, STEP_MS, 'back')
  // The PDS starts a cursor-less subscriber at whatever it sequences after it has set it up,
  // which may be a moment after the socket opened: write until the relay has seen a write.
  for (let i = 0; ; i++) {
    await writePosts(a, 1, 'after the gap')
    const head = await pds.headSeq()
    const seen = () => (relay.relay.hosts.connection(id)?.cursor ?? 0) >= head
    try {
      await eventually(seen, 2_000, 'a write after the gap')
      return
    } catch (err) {
      if (i === 5) throw err
    }
  }
}

const localStatus = async (relay: TestRelay, did: string) =>
  (await admin(relay.url, 'GET', '/admin/repo/status', { query: { did } })).json.localStatus

/** `pgUrl`: on PostgreSQL (else SQLite); `extra`: more flags for every relay it starts. */
async function archivalMode(pgUrl: string | undefined, extra: string[] = []): Promise<void> {
  const dbFlags = [...(pgUrl ? ['--db-url', pgUrl] : []), ...extra]
  const net = await startDevNetwork({ pdsCount: 1 })
  const cleanups: (() => Promise<void> | void)[] = [() => net.close()]
  try {
    const P = net.pdses[0]!
    const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
    const accounts: DevAccount[] = []
    for (const n of names) accounts.push(await createDevAccount(P, n))
    const [alice, bob, carol, dave] = accounts as [DevAccount, DevAccount, DevAccount, DevAccount]
    const alicePosts = await writePosts(alice, 200, 'alice')
    const bobPosts = await writePosts(bob, 120, 'bob')
    for (const a of accounts.slice(2)) await writePosts(a, 10, a.handle)

    // 1. A relay started after the fact, resynced across a restart.
    const flags = ['--archive', '--sync-validation', 'strict', ...dbFlags]
    let relay = await startTestRelay({ plcUrl: net.plc.url, flags })
    let closeRelay = () => relay.close()
    cleanups.unshift(() => closeRelay())
    assert.equal((await relay.crawl(P.hostname)).status, 200)
    assert.equal(
      (
        await admin(relay.url, 'POST', '/admin/pds/changeLimits', {
          body: { host: P.hostname, crawl_rate: 1 },
        })
      ).status,
      200,
    )
    const started = await admin(relay.url, 'POST', '/admin/pds/resync', {
      query: { host: P.hostname },
    })
    assert.equal(started.status, 200, JSON.stringify(started.json))
    const progress = async (r: TestRelay) =>
      (await admin(r.url, 'GET', '/admin/pds/resync', { query: { host: P.hostname } })).json
        .resync as Record<string, unknown>
    await eventually(
      async () => ((await progress(relay)).numReposChecked as number) >= 2,
      STEP_MS,
      'two repos checked',
    )
    const before = await progress(relay)
    assert.equal(before.status, 'running', 'interrupted while running')
    assert.ok((before.numReposChecked as number) < names.length, 'interrupted part way')
    const dir = relay.dir
    await relay.close({ keepDir: true })
    relay = await startTestRelay({ plcUrl: net.plc.url, flags, dir })
    closeRelay = () => relay.close()
    await eventually(
      async () => (await progress(relay)).status === 'done',
      STEP_MS * 2,
      'resync done after the restart',
    )
    const done = await progress(relay)
    assert.equal(done.pds, P.hostname)
    assert.deepEqual([done.numRepos, done.numReposChecked], [names.length, names.length])
    assert.equal(done.numReposToResync, names.length, 'every repo was missing from the new relay')
    await admin(relay.url, 'POST', '/admin/pds/changeLimits', {
      body: { host: P.hostname, crawl_rate: 100 },
    })
    for (const a of accounts) await assertMirrorEqualsPds(net, relay.url, P.hostname, a.did)
    const archive = (await admin(relay.url, 'GET', '/admin/archive')).json.archive as Record<
      string,
      number
    >
    assert.equal(archive.repos, names.length)

    // 2. Live writes and deletions, from the firehose.
    const consumer = new Consumer(relay.wsUrl, 0)
    cleanups.unshift(() => consumer.close())
    const bobBefore = await assertMirrorEqualsPds(net, relay.url, P.hostname, bob.did)
    const newBobPosts = await writePosts(bob, 60, 'bob live')
    const deleted = bobPosts.slice(0, 20)
    await bob.agent.com.atproto.repo.applyWrites({
      repo: bob.did,
      writes: deleted.map((p) => ({
        $type: 'com.atproto.repo.applyWrites#delete' as const,
        collection: p.split('/')[0]!,
        rkey: p.split('/')[1]!,
      })),
    })
    await putProfile(alice.agent, alice.did, 'Alice')
    await settle(relay, P)
    const bobNow = await assertMirrorEqualsPds(net, relay.url, P.hostname, bob.did)
    const aliceNow = await assertMirrorEqualsPds(net, relay.url, P.hostname, alice.did)
    assert.equal(bobNow.records.size, 120 + 60 - 20)
    for (const p of deleted)
      assert.equal(bobNow.records.has(p), false, `${p} deleted in the mirror`)
    await assertRecordProof(
      net,
      relay.url,
      bob.did,
      newBobPosts[0]!,
      bobNow.cids.get(newBobPosts[0]!)!,
    )
    await assertRecordProof(net, relay.url, bob.did, deleted[0]!, null)
    await assertRecordProof(net, relay.url, alice.did, 'app.bsky.feed.post/3zzzzzzzzzzzz', null)
    await assertRecordProof(
      net,
      relay.url,
      alice.did,
      alicePosts[7]!,
      aliceNow.cids.get(alicePosts[7]!)!,
    )
    // getRepo since the head before the live writes: only what came after.
    const since = await fetchBytes(
      `${relay.url}/xrpc/com.atproto.sync.getRepo?did=${bob.did}&since=${bobBefore.rev}`,
    )
    assert.equal(since.status, 200)
    const sinceBlocks = await carBlocks(since.bytes)
    assert.ok(sinceBlocks.has(bobNow.commit), 'a since export carries the signed commit')
    assert.ok(sinceBlocks.has(bobNow.records.get(newBobPosts[0]!)!), 'and what came after')
    assert.ok(
      !sinceBlocks.has(bobNow.records.get(bobPosts[100]!)!),
      'but not what was there before',
    )
    // getBlocks: the PDS's bytes for the same CIDs.
    const cids = [bobNow.commit, bobNow.records.get(newBobPosts[1]!)!]
    const q = `did=${bob.did}&${cids.map((c) => `cids=${c}`).join('&')}`
    const relayBlocks = await fetchBytes(`${relay.url}/xrpc/com.atproto.sync.getBlocks?${q}`)
    const pdsBlocks = await fetchBytes(`http://${P.hostname}/xrpc/com.atproto.sync.getBlocks?${q}`)
    assert.equal(relayBlocks.status, 200)
    assert.equal(relayBlocks.headers.get('atproto-repo-rev'), bobNow.rev)
    assert.equal(pdsBlocks.status, 200)
    const fromRelay = await carBlocks(relayBlocks.bytes)
    assert.deepEqual([...fromRelay.keys()].sort(), [...cids].sort())
    assert.deepEqual(fromRelay, await carBlocks(pdsBlocks.bytes), 'the PDS’s bytes')

    // 3. A forced chain break, repaired without an operator.
    await forceChainBreak(relay, P, carol)
    await consumer.until(
      () =>
        consumer
          .messages()
          .some(
            (m) =>
              m.type === '#account' &&
              m.body.did === carol.did &&
              m.body.status === 'desynchronized',
          ),
      STEP_MS,
      'carol marked desynchronized',
    )
    await eventually(
      () => mirrorAtPdsHead(relay.url, P.hostname, carol.did),
      STEP_MS,
      'carol repaired',
    )
    await eventually(
      async () => (await localStatus(relay, carol.did)) === 'active',
      STEP_MS,
      'carol active',
    )
    await assertMirrorEqualsPds(net, relay.url, P.hostname, carol.did)
    await consumer.until(
      () => consumer.messages().some((m) => m.type === '#sync' && m.body.did === carol.did),
      STEP_MS,
      'the repair announced as #sync',
    )
    const metrics = await (
      await fetch(`http://127.0.0.1:${relay.relay.metricsAddress()!.port}/metrics`)
    ).text()
    const metric = (line: string) => Number(metrics.match(new RegExp(`^${line} (\\S+)$`, 'm'))?.[1])
    assert.ok(metric('relay_repairs_total\\{result="repaired"\\}') >= 1, 'the repair is counted')
    assert.ok(metric('relay_mirror_commits_total\\{result="applied"\\}') >= 3, 'commits applied')
    assert.ok(metric('relay_account_syncs_total\\{result="synced"\\}') >= 1)
    if (extra.includes('--account-shards')) {
      // The events went through the shards (the commits counted above are their mirrors' counts:
      // with shards this thread's mirror only reads).
      const handed = [0, 1].map((i) => metric(`relay_account_shard_events_total\\{shard="${i}"\\}`))
      assert.ok(handed[0]! + handed[1]! > 0, `events per shard: ${handed.join(', ')}`)
    }
    // On SQLite every write above went through the archive's writer thread, which never died.
    const sqlite = pgUrl === undefined
    assert.equal(metric('relay_archive_writer_restarts_total'), sqlite ? 0 : Number.NaN)
    const writes = metric('relay_archive_writer_writes_total')
    assert.equal(writes >= 3, sqlite, `${writes} writes went through it`)
    const writerBusy = metric('relay_thread_busy_seconds_total\\{thread="archive_writer"\\}')
    assert.equal(writerBusy > 0, sqlite, `the writer thread was busy ${writerBusy} s`)

    // 4. Compaction after many updates and deletions.
    const size = async (): Promise<{ repos: number; storageBytes: number; freeBytes: number }> =>
      (await admin(relay.url, 'GET', '/admin/archive')).json.archive as {
        repos: number
        storageBytes: number
        freeBytes: number
      }
    // On PostgreSQL autovacuum would free some of the space at moments of its own choosing;
    // with it off for the archive's tables, what is measured below is what compaction's VACUUM
    // frees and nothing else.
    if (pgUrl) await autovacuumOff(pgUrl)
    for (let i = 0; i < 150; i++) await putProfile(alice.agent, alice.did, `Alice ${i}`)
    await alice.agent.com.atproto.repo.applyWrites({
      repo: alice.did,
      writes: alicePosts.slice(50, 200).map((p) => ({
        $type: 'com.atproto.repo.applyWrites#delete' as const,
        collection: p.split('/')[0]!,
        rkey: p.split('/')[1]!,
      })),
    })
    await settle(relay, P)
    const exports = new Map<string, Uint8Array>()
    for (const a of accounts) {
      exports.set(
        a.did,
        (await fetchBytes(`${relay.url}/xrpc/com.atproto.sync.getRepo?did=${a.did}`)).bytes,
      )
    }
    const beforeCompaction = await size()
    const pgSpaceBefore = pgUrl ? await blockSpace(pgUrl) : undefined
    const compact = async () => {
      // On PostgreSQL, VACUUM cannot free rows a still-open transaction may see; the exports
      // just read each ran in one, closed only after its last bytes were sent. Compaction starts
      // once none is open, so what it frees does not depend on that timing.
      if (pgUrl) await noOpenTransactions(pgUrl)
      const r = await admin(relay.url, 'POST', '/admin/repo/compactAll')
      assert.equal(r.status, 200, JSON.stringify(r.json))
      await eventually(
        async () =>
          (
            (await admin(relay.url, 'GET', '/admin/repo/compactAll')).json.compaction as {
              status: string
            }
          ).status === 'done',
        STEP_MS,
        'compaction done',
      )
    }
    await compact()
    const afterCompaction = await size()
    for (const a of accounts) {
      const again = await fetchBytes(`${relay.url}/xrpc/com.atproto.sync.getRepo?did=${a.did}`)
      assert.deepEqual(
        Buffer.from(again.bytes),
        Buffer.from(exports.get(a.did)!),
        `${a.handle} unchanged by compaction`,
      )
    }
    if (!pgUrl) {
      assert.ok(
        afterCompaction.storageBytes < beforeCompaction.storageBytes,
        `the SQLite file shrank (${beforeCompaction.storageBytes} → ${afterCompaction.storageBytes})`,
      )
    } else {
      // PostgreSQL keeps its files: a plain VACUUM, which never locks writers out, marks the
      // space of the rows compaction deleted free for reuse. With autovacuum off, a VACUUM of
      // every block partition can only be compaction's (`vacuum_count` counts no autovacuum).
      // Dead rows are not checked: a session reports its deletions to the statistics when it
      // next flushes them (a second or more later), so the count can rise again after the
      // VACUUM zeroed it (CI saw 324 in one partition).
      const vacuumed = await blockVacuums(pgUrl)
      assert.ok(vacuumed.length >= 2, 'the blocks are partitioned')
      for (const t of vacuumed) assert.ok(t.vacuums >= 1, `${t.table} was vacuumed`)
      // What the VACUUM freed is in the tables' free-space maps, where PostgreSQL's next
      // writes look for room, or, for empty pages at a table's end, given back to the file
      // system. Both are read directly (the maps through pg_freespacemap, in PostgreSQL's own
      // packages; creating it needs a superuser, as RELAY_TEST_POSTGRES_URL's role is in CI). The relation sizes alone are no measure of it: a page's dead rows are also
      // pruned as the page is read, so a second round of writes fits without any VACUUM (a
      // check on that passed with compaction's VACUUM removed), and the first VACUUM creates
      // the maps themselves (~110 KB here). Seen here: 92-238 KB recorded free; none without
      // the VACUUM.
      const after = await blockSpace(pgUrl)
      const recorded = after.free - pgSpaceBefore!.free
      const returned = pgSpaceBefore!.rows - after.rows
      assert.ok(
        recorded + returned >= 8192,
        `the VACUUM freed space: ${recorded} bytes recorded free, ${returned} given back`,
      )
    }
    await assertMirrorEqualsPds(net, relay.url, P.hostname, alice.did)

    // 5. Takedown deletes the mirrored repo; reversing it brings it back.
    assert.equal(
      (await admin(relay.url, 'POST', '/admin/repo/takeDown', { body: { did: dave.did } })).status,
      200,
    )
    const takenDown = await fetch(`${relay.url}/xrpc/com.atproto.sync.getRepo?did=${dave.did}`, {
      redirect: 'manual',
    })
    assert.equal(takenDown.status, 403)
    assert.equal(((await takenDown.json()) as { error: string }).error, 'RepoTakendown')
    assert.equal((await size()).repos, names.length - 1, 'the repo data is gone')
    assert.equal(
      (await admin(relay.url, 'POST', '/admin/repo/reverseTakedown', { body: { did: dave.did } }))
        .status,
      200,
    )
    await eventually(
      () => mirrorAtPdsHead(relay.url, P.hostname, dave.did),
      STEP_MS,
      'dave brought back',
    )
    await assertMirrorEqualsPds(net, relay.url, P.hostname, dave.did)
    assert.equal((await size()).repos, names.length)

    // An account deleted on its PDS is deleted from the mirror too.
    const frank = accounts[5]!
    await P.pds
      .getAgent()
      .com.atproto.admin.deleteAccount(
        { did: frank.did },
        { headers: P.pds.adminAuthHeaders(), encoding: 'application/json' },
      )
    await eventually(async () => (await size()).repos === names.length - 1, STEP_MS, 'frank gone')
    const gone = await fetch(`${relay.url}/xrpc/com.atproto.sync.getRepo?did=${frank.did}`, {
      redirect: 'manual',
    })
    assert.ok(gone.status >= 400 && gone.status < 500, `deleted: ${gone.status}`)

    // 6. The default mode on the same PDS: repair by the latest signed commit.
    const plain = await startTestRelay({
      plcUrl: net.plc.url,
      flags: ['--sync-validation', 'strict'],
    })
    cleanups.unshift(() => plain.close())
    assert.equal((await plain.crawl(P.hostname)).status, 200)
    const plainId = plain.relay.hosts.byHostname(P.hostname)!.id
    await eventually(
      () => plain.relay.hosts.connection(plainId)?.connected === true,
      STEP_MS,
      'plain relay connected',
    )
    const erin = accounts[4]!
    await writePosts(erin, 1, 'erin seen by the plain relay')
    await settle(plain, P)
    const plainConsumer = new Consumer(plain.wsUrl, 0)
    cleanups.unshift(() => plainConsumer.close())
    await forceChainBreak(plain, P, erin)
    const head = (await (
      await fetch(`http://${P.hostname}/xrpc/com.atproto.sync.getLatestCommit?did=${erin.did}`)
    ).json()) as { rev: string; cid: string }
    await plainConsumer.until(
      () =>
        plainConsumer
          .messages()
          .some((m) => m.type === '#sync' && m.body.did === erin.did && m.body.rev === head.rev),
      STEP_MS,
      'erin repaired: #sync at the PDS head',
    )
    const erinEvents = plainConsumer
      .messages()
      .filter((m) => (m.body.did ?? m.body.repo) === erin.did)
      .map((m) => (m.type === '#account' ? `#account ${m.body.status ?? 'active'}` : m.type))
    assert.ok(
      erinEvents.indexOf('#account desynchronized') < erinEvents.lastIndexOf('#sync'),
      erinEvents.join(', '),
    )
    await eventually(
      async () => (await localStatus(plain, erin.did)) === 'active',
      STEP_MS,
      'erin active',
    )
    const latest = await fetch(`${plain.url}/xrpc/com.atproto.sync.getLatestCommit?did=${erin.did}`)
    assert.deepEqual(await latest.json(), { cid: head.cid, rev: head.rev })
    const redirected = await fetch(`${plain.url}/xrpc/com.atproto.sync.getRepo?did=${erin.did}`, {
      redirect: 'manual',
    })
    assert.equal(redirected.status, 302, 'without archival mode getRepo redirects to the PDS')
  } finally {
    for (const c of cleanups) await c()
  }
}

test('archival mode on SQLite, end to end with the reference PDS', {
  timeout: 300_000,
}, async () => {
  await archivalMode(undefined)
})

// Every event verified on the main thread (its mirror input made there), and the whole repos of
// the resyncs and repairs in the one worker started for them.
test('archival mode on SQLite with every event verified on the main thread, end to end with the reference PDS', {
  timeout: 300_000,
}, async () => {
  await archivalMode(undefined, [...MAIN_THREAD_VERIFY[1]])
})

// With account shards each shard runs ingest for its accounts and sends every write of the
// mirror to the main thread's, the archive's one writer: the same scenario must hold. Here with
// a host thread handing the shards their events (stage 2); on PostgreSQL below without one.
test('archival mode with account shards and a host thread on SQLite, end to end with the reference PDS', {
  timeout: 300_000,
}, async () => {
  await archivalMode(undefined, ['--account-shards', '2', '--upstream-threads', '1'])
})

test('archival mode on PostgreSQL, end to end with the reference PDS', {
  skip: PG_URL ? false : 'RELAY_TEST_POSTGRES_URL is not set',
  timeout: 300_000,
}, async () => {
  await using pg = await tempPostgres()
  await archivalMode(pg.url)
})

test('archival mode with account shards on PostgreSQL, end to end with the reference PDS', {
  skip: PG_URL ? false : 'RELAY_TEST_POSTGRES_URL is not set',
  timeout: 300_000,
}, async () => {
  await using pg = await tempPostgres()
  await archivalMode(pg.url, ['--account-shards', '2', '--upstream-threads', '0'])
})

/** Turns autovacuum off for the archive's tables (each partition of the blocks, and TOAST). */
async function autovacuumOff(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const r = await client.query(
      `select c.relname from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
       where ns.nspname = current_schema() and c.relkind = 'r'
         and (c.relname = 'repo' or c.relname like 'repo_block%')`,
    )
    assert.ok(r.rows.length > 1, 'the archive tables exist')
    for (const { relname } of r.rows as { relname: string }[]) {
      await client.query(
        `alter table "${relname}" set (autovacuum_enabled = false, toast.autovacuum_enabled = false)`,
      )
    }
  } finally {
    await client.end()
  }
}

/** How many times each blocks partition was vacuumed by hand (not by autovacuum). */
async function blockVacuums(url: string): Promise<{ table: string; vacuums: number }[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const r = await client.query(
      `select relname as table, vacuum_count::int as vacuums
       from pg_stat_user_tables
       where schemaname = current_schema() and relname like 'repo_block_p%' order by relname`,
    )
    return r.rows
  } finally {
    await client.end()
  }
}

/**
 * The block partitions' row pages (bytes of their main forks) and the free bytes their
 * free-space maps record (what later writes can reuse).
 */
async function blockSpace(url: string): Promise<{ rows: number; free: number }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('create extension if not exists pg_freespacemap')
    const r = await client.query(
      `select coalesce(sum(pg_relation_size(c.oid, 'main')), 0)::bigint as rows,
              coalesce(sum((select sum(f.avail) from pg_freespace(c.oid) f)), 0)::bigint as free
       from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
       where ns.nspname = current_schema() and c.relkind = 'r' and c.relname like 'repo_block_p%'`,
    )
    return { rows: Number(r.rows[0].rows), free: Number(r.rows[0].free) }
  } finally {
    await client.end()
  }
}

/** Waits until no other session of the database is inside a transaction (5 s at most). */
async function noOpenTransactions(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await eventually(
      async () => {
        const r = await client.query(
          `select count(*)::int as n from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid()
             and backend_type = 'client backend'
             and xact_start is not null`,
        )
        return r.rows[0].n === 0
      },
      5000,
      'no open transaction',
    )
  } finally {
    await client.end()
  }
}
