// The whole relay on one event path: a fake PDS on loopback holds pre-signed sync 1.1 commits of
// many accounts (k256), the relay is asked to crawl it from cursor 0, and the bench times how
// long until every commit is in the event log. It reports events/s and the main thread's busy
// time per event (event-loop utilisation): what the middle of the relay (upstream connection,
// flow control, ingest, account state, log append) costs beside verification, which runs in the
// worker pool. The fake PDS and the mock PLC directory run in a child process, so the main
// thread measured is the relay's alone; they still share the machine's cores, so the figures
// are for comparing changes, not a capacity estimate. RELAY_BENCH_COMMITS sets the load
// (default 6,000 commits of 200 accounts). RELAY_BENCH_ARCHIVE=1 (or `--archive`) runs the relay
// in archival mode, so the cost of mirroring every commit (SQLite, repos.sqlite beside the
// relay's database) shows against the default; it then also waits for every event's mirror
// write (ingest counts an event accepted when it is appended, before the mirror has it) and says
// how many repos the mirror holds.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { note } from '../bench/harness.ts'
import { publishRepos } from '../test/support/did-doc.ts'
import { FakePds } from '../test/support/fake-pds.ts'
import { generateKeypair } from '../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../test/support/test-repo.ts'
import { ArchiveDatabase } from './archive/archive-db.ts'
import { RepoStore } from './archive/repo-store.ts'
import { loadConfig } from './config/index.ts'
import { startMockPlc } from './identity/testing/mock-plc.ts'
import { createLogger } from './observability/logger.ts'
import { createRelay } from './relay.ts'

const COMMITS = Number(process.env.RELAY_BENCH_COMMITS ?? 6_000)
const ACCOUNTS = 200
const ARCHIVE = process.env.RELAY_BENCH_ARCHIVE === '1' || process.argv.includes('--archive')

/** A distinct did:plc for each number (its base-32 digits in the PLC alphabet). */
function didOf(n: number): string {
  let id = ''
  for (let k = n; id.length < 24; k = Math.floor(k / 32))
    id = 'abcdefghijklmnopqrstuvwxyz234567'[k % 32] + id
  return `did:plc:${id}`
}

/** The child: makes the commits, serves them from a fake PDS, and the DIDs from a mock PLC. */
async function serveLoad(): Promise<void> {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const repos = Array.from(
    { length: ACCOUNTS },
    (_, i) => new TestRepo(didOf(i), generateKeypair('k256')),
  )
  publishRepos(plc, repos, pds.url, (did) => `${did.slice(-8)}.test`)
  for (let seq = 1; seq <= COMMITS; seq++) {
    const repo = repos[seq % ACCOUNTS]!
    const path = `app.bsky.feed.post/3l${String(seq).padStart(11, '0')}`
    pds.emit(seq, messageFrame(await repo.commit([{ action: 'create', path }], { seq })))
  }
  process.stdout.write(`${JSON.stringify({ plc: plc.url, pds: pds.hostname })}\n`)
}

if (process.argv[2] === 'load') {
  await serveLoad()
} else {
  const made = performance.now()
  const child = spawn(process.execPath, [import.meta.filename, 'load'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
  const load = JSON.parse(line) as { plc: string; pds: string }
  note(
    `${COMMITS} commits of ${ACCOUNTS} accounts made in ${Math.round(performance.now() - made)} ms` +
      (ARCHIVE ? ', relay in archival mode' : ''),
  )
  for (const workers of [1, 2]) {
    const dir = await mkdtemp(join(tmpdir(), 'relay-bench-'))
    const config = loadConfig(
      [
        'serve',
        '--bind',
        '127.0.0.1:0',
        '--persist-dir',
        join(dir, 'persist'),
        '--db-url',
        `sqlite://${join(dir, 'relay.sqlite')}`,
        '--plc-host',
        load.plc,
        '--allow-insecure-hosts',
        // A large account limit also lifts the host's event limits (they scale with it), which
        // would otherwise hold a host to ~50 events/s.
        '--default-account-limit',
        '100000000',
        '--verify-workers',
        String(workers),
        ...(ARCHIVE ? ['--archive'] : []),
      ],
      {},
      dir,
    )
    const relay = await createRelay(config, createLogger('silent', 'json'), { metrics: false })
    await relay.start()
    const elu0 = performance.eventLoopUtilization()
    const t0 = performance.now()
    await relay.hosts.requestCrawl({ hostname: load.pds, admin: true, cursor: 0 })
    const stats = relay.ingest.stats
    while (
      stats.accepted + stats.dropped < COMMITS ||
      relay.log.flushedSeq < stats.accepted ||
      (ARCHIVE && stats.inFlight > 0)
    )
      await new Promise((r) => setTimeout(r, 5))
    const ms = performance.now() - t0
    const elu = performance.eventLoopUtilization(elu0)
    note(
      `${workers} verify worker(s): ${stats.accepted} of ${COMMITS} accepted, ` +
        `${Math.round((COMMITS / ms) * 1000)} events/s, main thread ` +
        `${((elu.active / COMMITS) * 1000).toFixed(1)} µs per event (${Math.round(elu.utilization * 100)}% busy)`,
    )
    await relay.stop()
    if (ARCHIVE) {
      const adb = await ArchiveDatabase.open({ kind: 'sqlite', path: join(dir, 'repos.sqlite') })
      const t = await new RepoStore(adb).totals()
      note(`  mirror: ${t.repos} repos, ${t.blocks} blocks, ${Math.round(t.bytes / 1024)} KiB`)
      await adb.close()
    }
    await rm(dir, { recursive: true, force: true })
  }
  child.kill()
}
