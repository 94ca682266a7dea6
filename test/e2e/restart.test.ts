// Restarts (issue 3, done-means 3): the relay runs as a real process; a fake PDS streams signed
// commits of several accounts; the relay is stopped mid-stream with SIGTERM, and once with
// SIGKILL, while the PDS keeps producing. After each restart a consumer resuming from its last
// cursor must see no gap and no duplicate (relay seqs consecutive; every upstream commit exactly
// once overall), and the relay's upstream cursor must resume where it left off. The accounts'
// identities come back from the database after the restart, not from the directory; after the
// last restart, with another PLC directory, they come from that one.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { publishRepos } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import { ADMIN_KEY, eventually, readCommits } from '../support/relay-harness.ts'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const DIDS = [
  'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa',
  'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb',
  'did:plc:cccccccccccccccccccccccc',
]

test(
  'stop (SIGTERM) and kill (SIGKILL) mid-stream: consumers resume with no gap or duplicate',
  {
    timeout: 120_000,
  },
  () => stopAndKill([[], [], []]),
)

// The same with account shards, their count changed at each restart: each shard's checkpoint is
// its own, and recovery must tell which covers an account by the count they were written with.
test(
  'with account shards, their count changed at each restart: no gap, no duplicate, heads kept',
  {
    timeout: 120_000,
  },
  () =>
    stopAndKill([
      ['--account-shards', '2', '--upstream-threads', '0'],
      ['--account-shards', '3', '--upstream-threads', '0'],
      ['--account-shards', '2', '--upstream-threads', '0'],
    ]),
)

// With host threads (stage 2) the cursors are kept where the sockets are read, and what the
// checkpoint stores is asked of them: across a stop, a kill, and other thread and shard counts.
test(
  'with host threads beside account shards, their counts changed at each restart: the same',
  {
    timeout: 120_000,
  },
  () =>
    stopAndKill([
      ['--account-shards', '2', '--upstream-threads', '1'],
      ['--account-shards', '3', '--upstream-threads', '2'],
      ['--account-shards', '2', '--upstream-threads', '1'],
    ]),
)

/** Runs the relay three times (`flags` for each start): stopped with SIGTERM, then SIGKILL. */
async function stopAndKill(flags: readonly [string[], string[], string[]]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-restart-'))
  const pds = await FakePds.start()
  const plc = await startMockPlc({})
  // The directory of the last start (`--plc-host` changed), with the same documents.
  const otherPlc = await startMockPlc({})
  const repos = DIDS.map((did) => new TestRepo(did, generateKeypair('k256')))
  for (const directory of [plc, otherPlc]) {
    publishRepos(directory, repos, pds.url, (did) => `${did.slice(8, 14)}.test`)
  }
  let upstreamSeq = 0
  let postNo = 0
  const commitCids: string[] = []
  const heads = new Map<string, string>()
  const produce = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const repo = repos[i % repos.length]!
      const msg = await repo.commit(
        [{ action: 'create', path: `app.bsky.feed.post/3l${String(postNo++).padStart(11, '0')}` }],
        {
          seq: ++upstreamSeq,
        },
      )
      commitCids.push(msg.commit.$link)
      heads.set(repo.did, msg.commit.$link)
      pds.emit(upstreamSeq, messageFrame(msg))
    }
  }
  const seen: { seq: number; commit: string }[] = []
  const consume = async (relay: RelayProcess, cursor: number, until: number) => {
    seen.push(...(await readCommits(relay.wsUrl, cursor, until, relay.logs)))
  }
  const lastSeq = () => seen.at(-1)?.seq ?? 0
  let relay: RelayProcess | undefined
  try {
    relay = await startRelayProcess(dir, plc.url, flags[0])
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribed')
    await produce(30)
    await consume(relay, 0, 30)

    // 1. Graceful stop while the PDS keeps producing; restart; resume from the last cursor.
    relay.child.kill('SIGTERM')
    assert.equal(await relay.exited, 0)
    const directoryAsked = plc.requests.length
    await produce(20)
    relay = await startRelayProcess(dir, plc.url, flags[1])
    await consume(relay, lastSeq(), 20)
    // The accounts' identities, resolved minutes ago, came from the database: the directory was
    // not asked again after the restart.
    assert.equal(plc.requests.length, directoryAsked, 'no DID document fetched after the restart')
    const resumedAt = pds.subscriptions.at(-1)!.cursor
    assert.equal(resumedAt, '30', 'the upstream cursor resumed after the last processed event')

    // 2. SIGKILL in the middle of a burst.
    const burst = produce(60)
    await eventually(
      () => pds.subscriptions.length >= 2 && upstreamSeq >= 70,
      20_000,
      'burst under way',
    )
    relay.child.kill('SIGKILL')
    await relay.exited
    await burst
    const firstDirectoryAsked = plc.requests.length
    relay = await startRelayProcess(dir, otherPlc.url, flags[2])
    await produce(10)
    const remaining = commitCids.length - seen.length
    await consume(relay, lastSeq(), remaining)
    // The stored identities were the first directory's answers: forgotten at this start, and
    // every account resolved again from the directory the relay now uses.
    assert.equal(plc.requests.length, firstDirectoryAsked, 'the old directory is not asked')
    const otherAsked = new Set(otherPlc.requests.map((r) => r.did))
    assert.deepEqual([...otherAsked].sort(), [...DIDS].sort(), 'each account resolved anew')
    assert.ok(
      relay.logs.some((l) => l.includes('the PLC directory changed')),
      'the change is logged',
    )

    const seqs = seen.map((s) => s.seq)
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'relay seqs are consecutive across restarts, none repeated',
    )
    assert.deepEqual(
      seen.map((s) => s.commit).sort(),
      [...commitCids].sort(),
      'every upstream commit arrives exactly once',
    )
    // The account states came through the restarts too: each head is the last commit made,
    // and no commit found a stale head (which would have broken its chain and desynchronized
    // the account).
    for (const [did, cid] of heads) {
      const res = await fetch(`${relay.url}/xrpc/com.atproto.sync.getLatestCommit?did=${did}`)
      assert.equal(res.status, 200, did)
      assert.equal(((await res.json()) as { cid: string }).cid, cid, `${did}'s head`)
      const status = await fetch(`${relay.url}/admin/repo/status?did=${did}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      })
      const { localStatus } = (await status.json()) as { localStatus: string }
      assert.equal(localStatus, 'active', `${did} followed without a break`)
    }
  } finally {
    relay?.child.kill('SIGKILL')
    await pds.close()
    await plc.close()
    await otherPlc.close()
    await rm(dir, { recursive: true, force: true })
  }
}

test('a relay killed with SIGKILL can be started again at once; a second live relay on the same data is refused', {
  timeout: 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-restart-'))
  const plc = await startMockPlc({})
  const started: RelayProcess[] = []
  const isZombie = async (pid: number) =>
    (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.startsWith('Z') ?? false
  try {
    for (let i = 0; i < 3; i++) {
      const relay = await startRelayProcess(dir, plc.url, [], { unreaped: true })
      started.push(relay)
      // As a supervisor that has not collected the dead relay yet: it stays a zombie while the
      // next one starts on the same data.
      process.kill(relay.pid, 'SIGKILL')
      await eventually(() => isZombie(relay.pid), 10_000, 'the killed relay is a zombie')
    }
    const live = await startRelayProcess(dir, plc.url)
    started.push(live)
    assert.equal((await fetch(`${live.url}/xrpc/_health`)).status, 200)
    await assert.rejects(startRelayProcess(dir, plc.url), (err: Error) => {
      assert.match(err.message, new RegExp(`in use by process ${live.pid}`))
      return true
    })
    assert.equal((await fetch(`${live.url}/xrpc/_health`)).status, 200, 'the first keeps running')
  } finally {
    for (const r of started) {
      r.child.kill('SIGKILL')
      try {
        process.kill(r.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  }
})
