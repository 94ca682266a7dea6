// Crash safety (issue 11): the relay runs as a real process fed a steady stream of signed commits
// by a fake PDS, and is killed with SIGKILL again and again at random moments (after it has
// served something new, during replays and live streaming alike), then started again on the same
// data. A consumer reconnects after every restart with the last seq it received as its cursor.
// - The seqs it saw have no gap, no duplicate and no reordering (§4 items 1 and 3: a process
//   crash loses only events nobody saw, and never reuses a seq).
// - Everything it received before a kill is still served after it: a replay from cursor 0 at the
//   end gives the very same bytes.
// - Every commit the PDS emitted is in the log exactly once: each restart resumes the upstream
//   from the host's checkpointed cursor and skips what the log already holds.
// - A relay killed before its first checkpoint of a new host (no stored cursor yet) resumes that
//   host from the events its log holds, not from its live head.
// Then the log's end is damaged by hand, as a torn write would leave it:
// - a partly written record after the last complete one (what a crash in the middle of a write
//   leaves): the relay starts, cuts it, serves everything before it unchanged, and continues with
//   the next seq, so a consumer holding its cursor misses nothing and sees nothing twice;
// - a cut inside the last record when the database's checkpoint already covers that seq: the
//   relay refuses to start and says why, rather than hand the seq out again to another event.
// The kill cycles run again with account shards and host threads, their counts changed at each
// start. `RELAY_TEST_LONG=1` runs 50 kill cycles instead of 5.
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test } from 'node:test'
import { WebSocket } from 'ws'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { decodeFrame } from '../../src/protocol/frame.ts'
import { CommitStream, raiseEventLimits } from '../support/commit-stream.ts'
import { FakePds } from '../support/fake-pds.ts'
import { SEED, scaled } from '../support/long-mode.ts'
import { Consumer, eventually } from '../support/relay-harness.ts'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.ts'
import { seededRandom } from '../support/seeded-random.ts'

const KILL_CYCLES = scaled(5, 50)
const SUBSCRIBE = '/xrpc/com.atproto.sync.subscribeRepos'

interface Received {
  readonly seq: number
  readonly bytes: Uint8Array
  readonly commit: string | null
}

/** A consumer that keeps everything it received across connections, and notes any anomaly. */
class ResumingConsumer {
  readonly received: Received[] = []
  readonly anomalies: string[] = []
  #ws: WebSocket | null = null
  #closed: Promise<void> = Promise.resolve()

  get lastSeq(): number {
    return this.received.at(-1)?.seq ?? 0
  }

  /** Connects with the last seq it received as cursor (cursor 0 the first time). */
  async connect(wsUrl: string): Promise<void> {
    const ws = new WebSocket(`${wsUrl}${SUBSCRIBE}?cursor=${this.lastSeq}`)
    this.#ws = ws
    this.#closed = new Promise((resolve) => ws.once('close', () => resolve()))
    ws.on('error', () => {})
    ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data)
      const frame = decodeFrame(bytes)
      if (frame.op !== 1) {
        this.anomalies.push(`error frame ${frame.error} after seq ${this.lastSeq}`)
        return
      }
      const seq = frame.body.seq as number
      if (seq !== this.lastSeq + 1) this.anomalies.push(`seq ${seq} after ${this.lastSeq}`)
      const commit =
        frame.type === '#commit' ? (frame.body.commit as { $link: string }).$link : null
      this.received.push({ seq, bytes, commit })
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
  }

  /** Resolves once the current connection is closed (the relay died, or `close`). */
  closed(): Promise<void> {
    return this.#closed
  }

  close(): void {
    this.#ws?.close()
  }
}

async function segmentFiles(persistDir: string): Promise<string[]> {
  return (await readdir(persistDir))
    .filter((n) => n.endsWith('.seg'))
    .sort()
    .map((n) => join(persistDir, n))
}

/** One row from the relay's SQLite database, read while it runs (or after it died). */
function readDb<T>(dir: string, sql: string, param: string): T | undefined {
  const db = new DatabaseSync(join(dir, 'relay.sqlite'), { readOnly: true })
  try {
    return db.prepare(sql).get(param) as T | undefined
  } finally {
    db.close()
  }
}

/** The log seq the database's account states were last checkpointed at. */
function checkpointedSeq(dir: string): number {
  const sql = 'SELECT value FROM meta WHERE key = ?'
  return Number(readDb<{ value: string }>(dir, sql, 'accounts_checkpoint_seq')?.value ?? 0)
}

/** The upstream cursor the database holds for a host (null before its first checkpoint). */
function storedCursor(dir: string, hostname: string): number | null {
  const sql = 'SELECT cursor FROM host WHERE hostname = ?'
  return readDb<{ cursor: number | null }>(dir, sql, hostname)?.cursor ?? null
}

/** What each crash test runs against, and its clean-up (the relay left running included). */
interface CrashWorld {
  readonly dir: string
  readonly pds: FakePds
  readonly plc: MockPlc
  /** Commits of one account per letter. */
  readonly stream: CommitStream
  readonly consumer: ResumingConsumer
  close(relay: RelayProcess | undefined): Promise<void>
}

async function crashWorld(letters: string): Promise<CrashWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-crash-loop-'))
  const pds = await FakePds.start()
  const plc = await startMockPlc({})
  const stream = new CommitStream(pds, plc, letters)
  const consumer = new ResumingConsumer()
  return {
    ...{ dir, pds, plc, stream, consumer },
    async close(relay) {
      consumer.close()
      await stream.stop()
      relay?.child.kill('SIGKILL')
      await pds.close()
      await plc.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

test(`${KILL_CYCLES} kill -9 cycles under load: a resuming consumer sees every event once, in order; torn tails`, {
  timeout: scaled(180_000, 1_800_000),
}, async (t) => {
  const w = await crashWorld('nop')
  const { dir, plc, stream, consumer } = w
  const persistDir = join(dir, 'persist')
  let relay: RelayProcess | undefined
  const failWithLogs = (err: unknown): never => {
    console.error(relay?.logs.slice(-40).join('\n'))
    throw err
  }
  try {
    relay = await killUnderLoad(
      w,
      () => [],
      (r) => {
        relay = r
      },
    ).catch(failWithLogs)
    const total = stream.emitted.length

    // Everything served before the kills is served again, byte for byte.
    const replay = async (upTo: number): Promise<void> => {
      const c = new Consumer(relay!.wsUrl, 0)
      await c.until(() => c.messages().length >= upTo, 60_000, `replay of ${upTo}`)
      c.close()
      assert.equal(c.frames.length, upTo)
      for (const [i, f] of c.frames.entries())
        assert.ok(
          Buffer.from(f.bytes).equals(Buffer.from(consumer.received[i]!.bytes)),
          `seq ${i + 1} served with the same bytes`,
        )
    }
    await replay(total)

    // A torn write at the log's end: a record cut short after the last complete one.
    relay.child.kill('SIGKILL')
    await relay.exited
    await consumer.closed()
    const last = (await segmentFiles(persistDir)).at(-1)!
    const goodSize = (await stat(last)).size
    const torn = Buffer.alloc(40)
    torn.writeUInt32BE(5000, 0) // a length for bytes that never came
    torn.writeUInt8(1, 4)
    await appendFile(last, torn)
    relay = await startRelayProcess(dir, plc.url).catch(failWithLogs)
    assert.equal((await stat(last)).size, goodSize, 'the torn bytes were cut, nothing more')
    const started = relay
    await t.test('the relay reports the torn tail it cut: file, offset, bytes', () => {
      const cut = started.logs
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => /torn tail/.test(String(e.msg)))
      assert.equal(cut.length, 1, 'one log line about the cut tail')
      assert.equal(cut[0]!.level, 40, 'a warning')
      assert.equal(cut[0]!.file, last)
      assert.equal(cut[0]!.offset, goodSize)
      assert.equal(cut[0]!.bytes, 40)
    })
    assert.equal((await fetch(`${relay.url}/xrpc/_health`)).status, 200)
    await replay(total)
    await consumer.connect(relay.wsUrl)
    await stream.produce(5)
    await eventually(
      () => consumer.received.length >= total + 5,
      30_000,
      'new events after the torn tail',
    ).catch(failWithLogs)
    assert.deepEqual(consumer.anomalies, [])
    assert.deepEqual(
      consumer.received.slice(total).map((r) => r.seq),
      [1, 2, 3, 4, 5].map((i) => total + i),
      'the next seqs, none reused',
    )
    // Order across accounts is not promised (they are handled in parallel): compare as sets.
    assert.deepEqual(
      consumer.received
        .slice(total)
        .map((r) => r.commit)
        .sort(),
      stream.emitted.slice(total).sort(),
    )

    // A cut inside the last record, whose seq the database has already checkpointed.
    const lastSeq = total + 5
    await eventually(() => checkpointedSeq(dir) >= lastSeq, 30_000, 'checkpoint covers the log')
    relay.child.kill('SIGKILL')
    await relay.exited
    await consumer.closed()
    const end = (await stat(last)).size
    await truncate(last, end - 7)
    await assert.rejects(startRelayProcess(dir, plc.url), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`ends at seq ${lastSeq - 1}, but the database has state up to seq ${lastSeq}`),
      )
      assert.match(err.message, new RegExp(`--initial-seq-number ${lastSeq + 1}`))
      return true
    })
    relay = undefined
  } finally {
    await w.close(relay)
  }
})

/**
 * Starts the relay in `dir` on a host streaming commits, kills it with SIGKILL KILL_CYCLES times
 * at random moments under load (each start with `flags(start)`), then stops the stream and checks
 * what the resuming consumer saw: seqs 1..N once and in order, every commit once, and each
 * restart resumed the upstream from a stored cursor. Returns the relay left running; `onStart`
 * hears of each start (for the caller's logs and clean-up).
 */
async function killUnderLoad(
  w: CrashWorld,
  flags: (start: number) => string[],
  onStart: (relay: RelayProcess) => void,
): Promise<RelayProcess> {
  const { dir, pds, plc, stream, consumer } = w
  const rand = seededRandom(SEED)
  const start = async (n: number) => {
    const relay = await startRelayProcess(dir, plc.url, flags(n))
    onStart(relay)
    return relay
  }
  let relay = await start(0)
  assert.equal((await relay.crawl(pds.hostname)).status, 200)
  await raiseEventLimits(relay.url, pds.hostname)
  await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribed')
  stream.start(10)
  await consumer.connect(relay.wsUrl)
  // The kills start once the host has a stored cursor: a relay killed before its first
  // checkpoint has its own test below.
  await eventually(
    () => storedCursor(dir, pds.hostname) !== null,
    30_000,
    'first checkpoint of the host cursor',
  )
  const cursorsAtRestart: string[] = []
  for (let cycle = 0; cycle < KILL_CYCLES; cycle++) {
    // Under load: the relay has served something new since it started, then a random moment.
    const seen = consumer.received.length
    await eventually(
      () => consumer.received.length > seen,
      30_000,
      `cycle ${cycle}: events flowing`,
    )
    await new Promise((r) => setTimeout(r, Math.floor(rand() * 800)))
    relay.child.kill('SIGKILL')
    assert.equal(await relay.exited, 'SIGKILL')
    await consumer.closed()
    const subscriptions = pds.subscriptions.length
    relay = await start(cycle + 1)
    await eventually(() => pds.subscriptions.length > subscriptions, 10_000, 'upstream resumed')
    cursorsAtRestart.push(pds.subscriptions.at(-1)!.cursor ?? 'live')
    await consumer.connect(relay.wsUrl)
  }
  await stream.stop()
  const total = stream.emitted.length
  await eventually(() => consumer.received.length >= total, 60_000, `all ${total} commits received`)

  assert.deepEqual(consumer.anomalies, [], 'no error frame, gap, duplicate or reordering')
  const seqs = consumer.received.map((r) => r.seq)
  assert.deepEqual(
    seqs,
    Array.from({ length: total }, (_, i) => i + 1),
    'seqs 1..N, each once, in order, across every restart',
  )
  assert.deepEqual(
    consumer.received.map((r) => r.commit).sort(),
    [...stream.emitted].sort(),
    'every commit the PDS emitted, exactly once',
  )
  // Every restart resumed the upstream from a stored cursor, never from its live head.
  assert.ok(
    cursorsAtRestart.every((c) => c !== 'live'),
    `upstream cursors at restarts: ${cursorsAtRestart}`,
  )
  return relay
}

// The same with account shards and host threads (docs/scaling.md), their counts changed at each
// start: each shard's checkpoint and each host thread's cursors must survive a kill at any moment.
test(`${KILL_CYCLES} kill -9 cycles with account shards and host threads: every event once, in order`, {
  timeout: scaled(180_000, 1_800_000),
}, async () => {
  const w = await crashWorld('nop')
  let relay: RelayProcess | undefined
  const counts = [
    ['2', '1'],
    ['3', '2'],
  ] as const
  const flags = (n: number) => {
    const [shards, threads] = counts[n % counts.length]!
    return ['--account-shards', shards, '--upstream-threads', threads]
  }
  try {
    relay = await killUnderLoad(w, flags, (r) => {
      relay = r
    }).catch((err: unknown) => {
      console.error(relay?.logs.slice(-40).join('\n'))
      throw err
    })
  } finally {
    await w.close(relay)
  }
})

test('a relay killed before its first checkpoint resumes a new host from the events its log holds', {
  timeout: 60_000,
}, async () => {
  const w = await crashWorld('q')
  const { dir, pds, plc, stream, consumer } = w
  let relay: RelayProcess | undefined
  try {
    // No checkpoint for an hour: the kill below is certain to come before the first one.
    relay = await startRelayProcess(dir, plc.url, ['--checkpoint-interval', '1h'])
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribed')
    await consumer.connect(relay.wsUrl)
    await stream.produce(10)
    await eventually(() => consumer.received.length >= 10, 20_000, '10 events served')
    relay.child.kill('SIGKILL')
    await relay.exited
    await consumer.closed()
    assert.equal(storedCursor(dir, pds.hostname), null, 'no cursor was stored before the kill')
    // Emitted while the relay is down: only a resume from upstream seq 10 delivers them.
    await stream.produce(5)
    relay = await startRelayProcess(dir, plc.url)
    await eventually(() => pds.subscriptions.length >= 2, 10_000, 'upstream resumed')
    // Just below the lowest upstream seq in the log (the first event), not the live head; the
    // ten in the log are skipped, not emitted again.
    assert.equal(pds.subscriptions[1]!.cursor, '0', 'resumed below the events in the log')
    await consumer.connect(relay.wsUrl)
    await stream.produce(5)
    await eventually(() => consumer.received.length >= 20, 20_000, 'all 20 commits')
    assert.deepEqual(consumer.anomalies, [])
    assert.deepEqual(
      consumer.received.map((r) => r.commit),
      stream.emitted,
    )
  } finally {
    await w.close(relay)
  }
})
