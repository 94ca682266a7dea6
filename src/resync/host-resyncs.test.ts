// Whole-host resyncs over a fake PDS listing its accounts in pages, with the real one-account sync
// in archival mode (the same verify function the workers run, Ingest, a temp mirror) and progress
// in a real meta table (SQLite). Checked: every listed active account whose head differs from the
// relay's is fetched and taken in, the others are not; progress counts pages and accounts and ends
// `done`; at most four repo fetches run at once; a resync stopped mid-way is resumed by a new
// HostResyncs over the same table without listing the finished pages again; a host that cannot be
// listed ends `failed`; asking again while one runs answers it; a resync of a host the relay no
// longer knows ends `failed` at resume.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, it } from 'node:test'
import { tempArchive } from '../archive/testing.ts'
import { tempDatabase } from '../db/testing.ts'
import { startMockPlc } from '../identity/testing/mock-plc.ts'
import { DropCounter } from '../ingest/drop-counter.ts'
import { runRepoVerifyTask } from '../ingest/repo-verify-task.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { HostResyncs, type HostResyncsDeps, type ResyncProgress } from './host-resyncs.ts'
import { HostPacer } from './pacer.ts'
import { PdsClient } from './pds-client.ts'
import { RepoSyncer, type SyncHost } from './repo-syncer.ts'
import { FakeSyncPds, ingestRig, resolveVia } from './testing.ts'

const T = Date.parse('2026-06-01T00:00:00.000Z')
const quiet = { info() {}, warn() {}, error() {} }

async function rig(pageSize: number) {
  const db = await tempDatabase()
  const plc = await startMockPlc()
  const pds = await FakeSyncPds.start({ plc, pageSize })
  const archive = await tempArchive('sqlite')
  const r = ingestRig(archive.mirror)
  const host: SyncHost = { id: 3, hostname: pds.hostname, ssl: false, crawlRate: 10_000 }
  const hosts = new Map([[host.hostname, host]])
  const client = new PdsClient({
    userAgent: 'resync-test',
    allowInsecure: true,
    maxRepoBytes: 8 * 1024 * 1024,
    repoTimeoutMs: 5000,
  })
  const pacer = new HostPacer()
  const syncer = new RepoSyncer({
    archive: true,
    pds: client,
    pacer,
    resolveIdentity: resolveVia(plc),
    hostByName: (h) => hosts.get(h),
    verifyRepo: async (task) => runRepoVerifyTask(task, verifySignature),
    resynchronize: (did, input) => r.ingest.resynchronize(did, input),
    drops: new DropCounter(),
    now: Date.now,
  })
  /** A HostResyncs as the relay builds it; a new one over the same table is a restarted relay. */
  const resyncs = (
    syncAccount: HostResyncsDeps['syncAccount'] = (did, o) => syncer.syncAccount(did, o),
  ) =>
    new HostResyncs({
      meta: db.db.meta,
      pds: client,
      pacer,
      hostByName: (h) => hosts.get(h),
      needsSync: async (repo) => {
        const account = await r.accounts.get(repo.did)
        if (!account || account.commitCid !== repo.head) return true
        return (await archive.mirror.head(repo.did))?.commitCid !== repo.head
      },
      syncAccount,
      logger: quiet,
      now: () => T,
      listRetryMs: 10,
    })
  const listCursors = () =>
    pds.requests.filter((q) => q.route === 'listRepos').map((q) => q.cursor ?? null)
  const fetched = () => pds.requests.filter((q) => q.route === 'getRepo').map((q) => q.did!)
  return {
    ...r,
    pds,
    host,
    hosts,
    syncer,
    archive,
    resyncs,
    listCursors,
    fetched,
    async [Symbol.asyncDispose]() {
      await pds.close()
      await plc.close()
      await archive[Symbol.asyncDispose]()
      await db[Symbol.asyncDispose]()
    },
  }
}

/** The stored progress once the resync of `hostname` is no longer running. */
async function ended(h: HostResyncs, hostname: string): Promise<ResyncProgress> {
  for (;;) {
    const p = await h.progress(hostname)
    if (p && p.status !== 'running') return p
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('HostResyncs', () => {
  it('takes in every active listed account whose head differs, page by page', async () => {
    await using t = await rig(3)
    const accounts = []
    for (let i = 0; i < 9; i++) accounts.push(await t.pds.addAccount({ records: 3 }))
    const inactive = await t.pds.addAccount({ active: false, status: 'deactivated' })
    // The relay already holds three of them; one has committed since.
    for (const a of accounts.slice(0, 3)) await t.syncer.syncAccount(a.did, { announce: false })
    await t.pds.commit(accounts[0]!.did)
    const before = t.fetched().length
    const resyncs = t.resyncs()
    const started = await resyncs.start(t.host)
    assert.equal(started.status, 'running')
    const done = await ended(resyncs, t.host.hostname)
    const expected = [accounts[0]!, ...accounts.slice(3)].map((a) => a.did)
    assert.deepEqual(t.fetched().slice(before).sort(), expected.sort())
    assert.ok(!t.fetched().includes(inactive.did), 'an inactive account is not fetched')
    assert.deepEqual(done, {
      pds: t.host.hostname,
      numRepoPages: t.listCursors().length,
      numRepos: 10,
      numReposChecked: 10,
      numReposToResync: 7,
      numReposResynced: 7,
      numReposFailed: 0,
      status: 'done',
      statusChangedAt: new Date(T).toISOString(),
      lastError: null,
    })
    // Four pages of the ten accounts, and the empty one that says there are no more.
    assert.equal(t.listCursors().length, 5)
    assert.deepEqual(await resyncs.list(), [done])
    for (const a of accounts) {
      assert.equal((await t.accounts.get(a.did))?.commitCid, a.repo.commitCid)
      assert.equal((await t.archive.mirror.head(a.did))?.commitCid, a.repo.commitCid)
    }
    // Taken in quietly (`#sync` only for what changed), once each.
    assert.equal(t.appended.filter((e) => e.type === '#sync').length, 3 + 7)
  })

  it('fetches at most four repos at once', async () => {
    await using t = await rig(50)
    for (let i = 0; i < 12; i++) await t.pds.addAccount({ records: 2 })
    t.pds.hold('getRepo')
    const resyncs = t.resyncs()
    await resyncs.start(t.host)
    await t.pds.whenHeld('getRepo', 4)
    // A moment for any fifth fetch to arrive (there must be none).
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(t.pds.maxInFlight('getRepo'), 4)
    t.pds.release('getRepo')
    assert.equal((await ended(resyncs, t.host.hostname)).numReposResynced, 12)
    assert.equal(t.pds.maxInFlight('getRepo'), 4)
  })

  it('resumes a stopped resync from its stored page, without listing finished pages again', async () => {
    await using t = await rig(3)
    for (let i = 0; i < 9; i++) await t.pds.addAccount({ records: 2 })
    // Stop while the second page's accounts are being fetched.
    t.pds.afterNext('listRepos', async () => {
      t.pds.afterNext('listRepos', async () => t.pds.hold('getRepo'))
    })
    const first = t.resyncs()
    await first.start(t.host)
    await t.pds.whenHeld('getRepo', 3)
    await first.stop()
    const stopped = (await first.progress(t.host.hostname))!
    assert.equal(stopped.status, 'running', 'stored as running, to be resumed')
    const listedBefore = t.listCursors()
    assert.equal(listedBefore.length, 2)
    const fetchedBefore = t.fetched().length
    t.pds.release('getRepo')

    const second = t.resyncs()
    await second.resume()
    const done = await ended(second, t.host.hostname)
    const listedAfter = t.listCursors().slice(listedBefore.length)
    assert.equal(listedAfter[0], listedBefore[1], 'resumed at the page it was in')
    assert.ok(!listedAfter.includes(null), 'the first page is not listed again')
    assert.deepEqual(
      [done.status, done.numRepos, done.numReposChecked, done.numReposFailed],
      ['done', 9, 9, 0],
    )
    // The first page's accounts, taken in before the stop, are not fetched again; the second
    // page's, stopped on their way, are.
    assert.equal(fetchedBefore, 6)
    const resumed = t.fetched().slice(fetchedBefore)
    assert.deepEqual([resumed.length, new Set(resumed).size], [6, 6])
    for (const did of t.fetched().slice(0, 3)) assert.ok(!resumed.includes(did), did)
    for (const a of t.pds.accounts.values()) {
      assert.equal((await t.accounts.get(a.did))?.commitCid, a.repo.commitCid)
    }
  })

  it('stop() returns only when no account sync of the resync is left running', async () => {
    await using t = await rig(10)
    for (let i = 0; i < 4; i++) await t.pds.addAccount({ records: 2 })
    const [slow] = [...t.pds.accounts.keys()].sort()
    // One account's sync is past any point the stop can abort (taking it in, say); the others
    // are fetching when the stop comes.
    let finish = () => {}
    const gate = new Promise<void>((r) => (finish = r))
    let ended = false
    const resyncs = t.resyncs(async (did, opts) => {
      if (did !== slow) return t.syncer.syncAccount(did, opts)
      await gate
      ended = true
      return { did, result: 'unchanged', rev: '3lbbbbbbbbbb2' }
    })
    t.pds.hold('getRepo')
    await resyncs.start(t.host)
    await t.pds.whenHeld('getRepo', 3)
    let stopped = false
    const stopping = resyncs.stop().then(() => {
      stopped = true
    })
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(stopped, false, 'the slow sync is still running')
    finish()
    await stopping
    assert.equal(ended, true)
    t.pds.release('getRepo')
  })

  it('answers the running resync when asked again, running one at a time', async () => {
    await using t = await rig(3)
    for (let i = 0; i < 4; i++) await t.pds.addAccount({ records: 2 })
    const resyncs = t.resyncs()
    const [a, b] = await Promise.all([resyncs.start(t.host), resyncs.start(t.host)])
    assert.deepEqual(a, b)
    await ended(resyncs, t.host.hostname)
    assert.deepEqual(
      t.listCursors().filter((c) => c === null),
      [null],
      'the first page was listed once',
    )
    assert.equal(t.fetched().length, 4)
  })

  it('ends failed when the host cannot be listed', async () => {
    await using t = await rig(3)
    const dead: SyncHost = {
      id: 9,
      hostname: `localhost:${await closedPort()}`,
      ssl: false,
      crawlRate: 100,
    }
    t.hosts.set(dead.hostname, dead)
    const resyncs = t.resyncs()
    await resyncs.start(dead)
    const done = await ended(resyncs, dead.hostname)
    assert.equal(done.status, 'failed')
    assert.match(done.lastError ?? '', /listRepos failed 3 times: could not connect/)
    assert.equal(done.numRepoPages, 0)
  })

  it('at resume, ends failed a resync whose host the relay no longer knows', async () => {
    await using t = await rig(3)
    for (let i = 0; i < 4; i++) await t.pds.addAccount({ records: 2 })
    t.pds.hold('getRepo')
    const first = t.resyncs()
    await first.start(t.host)
    await t.pds.whenHeld('getRepo', 1)
    await first.stop()
    t.pds.release('getRepo')
    t.hosts.clear()
    const second = t.resyncs()
    await second.resume()
    const p = await second.progress(t.host.hostname)
    assert.deepEqual([p?.status, p?.lastError], ['failed', 'the host is no longer known'])
  })
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
