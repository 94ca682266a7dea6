// The soak's load, run as a child process (`node bench/soak/load.ts '<options json>'`) so that
// making commits does not steal the consumers' event loop: a mock PLC directory, honest PDSes and
// (unless turned off) two hostile ones, and a steady stream of validly signed sync 1.1 commits
// at `rate` per second over `accounts` accounts spread over every host. Each account's repo stays
// small (about 30 records: creates, then updates and deletes), and blocks no longer in its tree
// are pruned, so the generator's own memory stays flat for hours.
//
// Hostile hosts (they also carry honest accounts, whose commits must still get through):
// - `garbage`: every few seconds, in turn, a commit signed with the wrong key (bad-signature), a
//   message that breaks its Lexicon (invalid-message), and bytes that are no frame at all
//   (undecodable: the relay closes the socket and reconnects with its cursor);
// - `flapping`: drops every connection every 20 s.
//
// Protocol: the first stdout line is `{"plc": url, "hosts": [{"hostname", "role"}]}`; then a
// `{"stats": ...}` line every second. When its stdin closes (the soak is ending, or died) it
// stops making events, prints its final stats and exits 15 minutes later unless killed sooner
// (the relay may still be draining a host's backlog).
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import type { CommitMessage } from '../../src/protocol/messages.ts'
import { testDidDocument } from '../../test/support/did-doc.ts'
import { messageFrame, TestRepo, type Write } from '../../test/support/test-repo.ts'
import { fastKeypair } from '../fast-keypair.ts'
import { SoakPds } from './pds.ts'

export interface LoadOptions {
  /** Commits per second over all hosts. */
  readonly rate: number
  /** Honest hosts. */
  readonly hosts: number
  readonly accounts: number
  /** Add the garbage and the flapping host. */
  readonly hostile: boolean
}

export type HostRole = 'honest' | 'garbage' | 'flapping'

export interface LoadStats {
  /** Commits made and emitted (honest accounts). */
  readonly made: number
  /** Commits that were due by now at `rate` (counted from when the relay listened to all). */
  readonly due: number
  readonly identities: number
  readonly forged: number
  readonly invalid: number
  readonly garbage: number
  readonly flaps: number
  /** Relay connections a PDS cut off because the relay was not reading. */
  readonly pdsCutOffs: number
  readonly subscriptions: number
}

/** A distinct did:plc for each number (base-32 digits in the PLC alphabet). */
function didOf(n: number): string {
  let id = ''
  for (let k = n; id.length < 24; k = Math.floor(k / 32))
    id = 'abcdefghijklmnopqrstuvwxyz234567'[k % 32] + id
  return `did:plc:${id}`
}

interface Account {
  readonly repo: TestRepo
  readonly host: Host
  /** Record paths in the repo, oldest first. */
  readonly paths: string[]
  commits: number
}

interface Host {
  readonly pds: SoakPds
  readonly role: HostRole
  seq: number
}

const RECORDS = 30
let rkeys = 0
const text = (n: number) => 'soak '.repeat(Math.ceil(n / 5)).slice(0, n)

function nextWrites(a: Account): Write[] {
  const record = () => ({
    $type: 'app.bsky.feed.post',
    text: text(20 + Math.floor(Math.random() * 180)),
    createdAt: new Date().toISOString(),
  })
  if (a.paths.length < RECORDS || Math.random() < 0.2) {
    const path = `app.bsky.feed.post/3l${String(rkeys++).padStart(11, '0')}`
    a.paths.push(path)
    return [{ action: 'create', path, record: record() }]
  }
  if (Math.random() < 0.5) {
    const path = a.paths[Math.floor(Math.random() * a.paths.length)]!
    return [{ action: 'update', path, record: record() }]
  }
  return [{ action: 'delete', path: a.paths.shift()! }]
}

/** Drops the blocks no longer in the repo's tree (the next commit reads only the tree). */
async function prune(repo: TestRepo): Promise<void> {
  const live = await repo.exportBlocks()
  for (const cid of repo.store.blocks.keys()) if (!live.has(cid)) repo.store.blocks.delete(cid)
}

export async function runLoad(
  opts: LoadOptions,
  out: (line: string) => void,
): Promise<() => Promise<void>> {
  const plc = await startMockPlc({})
  const hosts: Host[] = []
  const addHost = async (role: HostRole) => {
    const host = { pds: await SoakPds.start(), role, seq: 0 }
    hosts.push(host)
    return host
  }
  for (let i = 0; i < opts.hosts; i++) await addHost('honest')
  const garbage = opts.hostile ? await addHost('garbage') : null
  const flapping = opts.hostile ? await addHost('flapping') : null

  const accounts: Account[] = []
  for (let i = 0; i < opts.accounts; i++) {
    const host = hosts[i % hosts.length]!
    const repo = new TestRepo(didOf(i), fastKeypair())
    plc.setDocument(
      repo.did,
      testDidDocument(repo.did, `http://${host.pds.hostname}`, {
        handle: `a${i}.soak.test`,
        publicKeyMultibase: repo.keypair.publicKeyMultibase,
      }),
    )
    accounts.push({ repo, host, paths: [], commits: 0 })
  }
  // Accounts only ever sent forged commits: their documents name one key, the commits are
  // signed with another.
  const victims = Array.from({ length: 4 }, (_, i) => didOf(1_000_000 + i))
  const forger = fastKeypair()
  if (garbage) {
    for (const did of victims) {
      plc.setDocument(
        did,
        testDidDocument(did, `http://${garbage.pds.hostname}`, {
          publicKeyMultibase: fastKeypair().publicKeyMultibase,
        }),
      )
    }
  }

  const stats = {
    made: 0,
    due: 0,
    identities: 0,
    forged: 0,
    invalid: 0,
    garbage: 0,
    flaps: 0,
  }
  const snapshot = (): LoadStats => ({
    ...stats,
    pdsCutOffs: hosts.reduce((n, h) => n + h.pds.cutOff, 0),
    subscriptions: hosts.reduce((n, h) => n + h.pds.subscriptions, 0),
  })
  out(
    JSON.stringify({
      plc: plc.url,
      hosts: hosts.map((h) => ({ hostname: h.pds.hostname, role: h.role })),
    }),
  )

  /** Emits a message as the host's next seq (given here, after any await, so seqs only rise). */
  const emit = (host: Host, msg: CommitMessage) =>
    host.pds.emit(++host.seq, messageFrame({ ...msg, seq: host.seq }))

  let stopped = false
  let next = 0
  const generate = async (started: number) => {
    while (!stopped) {
      stats.due = Math.floor(((performance.now() - started) / 1000) * opts.rate)
      // At most a second's worth per turn, so a stall is not followed by an unbounded burst.
      const todo = Math.min(stats.due - stats.made, Math.max(1, opts.rate))
      for (let i = 0; i < todo && !stopped; i++) {
        const a = accounts[next++ % accounts.length]!
        emit(a.host, await a.repo.commit(nextWrites(a)))
        stats.made++
        if (++a.commits % 64 === 0) await prune(a.repo)
      }
      if (stats.made >= stats.due) await new Promise((r) => setTimeout(r, 10))
      else await new Promise((r) => setImmediate(r))
    }
  }

  let turn = 0
  const hostile = async () => {
    const kind = turn++ % 3
    if (!garbage) return
    if (kind === 0) {
      const victim = victims[turn % victims.length]!
      const forged = await new TestRepo(victim, forger).commit([
        { action: 'create', path: 'app.bsky.feed.post/3lforged00000' },
      ])
      emit(garbage, forged)
      stats.forged++
    } else if (kind === 1) {
      const body = { seq: ++garbage.seq, repo: 'not a did', time: new Date().toISOString() }
      garbage.pds.emit(garbage.seq, encodeMessageFrame('#commit', body))
      stats.invalid++
    } else {
      const junk = new Uint8Array(64 + Math.floor(Math.random() * 400))
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(Math.random() * 256)
      junk[0] = 0xff
      garbage.pds.sendRaw(junk)
      stats.garbage++
    }
  }
  const timers = [setInterval(() => out(JSON.stringify({ stats: snapshot() })), 1_000)]
  const start = () => {
    timers.push(
      // A handle change now and then: the relay refreshes the identity and passes it on.
      setInterval(() => {
        const a = accounts[Math.floor(Math.random() * accounts.length)]!
        const body = { seq: ++a.host.seq, did: a.repo.did, time: new Date().toISOString() }
        a.host.pds.emit(a.host.seq, encodeMessageFrame('#identity', body))
        stats.identities++
      }, 5_000),
      setInterval(() => void hostile(), 4_000),
      setInterval(() => {
        if (!flapping) return
        flapping.pds.disconnectAll()
        stats.flaps++
      }, 20_000),
    )
    return generate(performance.now())
  }
  // The relay crawls a host from its live head: nothing is sent before it listens to all.
  const generating = (async () => {
    while (!stopped && hosts.some((h) => h.pds.subscriberCount === 0)) {
      await new Promise((r) => setTimeout(r, 20))
    }
    if (!stopped) await start()
  })()

  // Stops making events; the PDSes stay up (the relay may still be reading) until the process
  // ends.
  return async () => {
    stopped = true
    for (const t of timers) clearInterval(t)
    await generating
    out(JSON.stringify({ stats: snapshot(), final: true }))
  }
}

if (import.meta.main) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions
  const stop = await runLoad(opts, (line) => process.stdout.write(`${line}\n`))
  process.stdin.resume()
  process.stdin.on('end', () => {
    void stop()
    setTimeout(() => process.exit(0), 15 * 60_000) // unless the soak ends us sooner
  })
}
