// A full disk under the event log (issue 11). The log directory is a small tmpfs the test mounts
// itself (the test runs as root in CI), with a filler file taking most of it; commits with 16 KiB
// records fill the rest. Then the relay must: stop accepting events (the log's flushed seq stops
// while the PDS keeps sending), say why (/xrpc/_health answers 503 naming ENOSPC,
// relay_eventlog_io_errors_total counts the failures), keep serving what it has (a new consumer
// replays everything flushed), and, once the filler is removed, write what it held back and go
// on, with every commit exactly once and in order, and a replay from 0 identical to what a live
// consumer received. Where mounting is not allowed, the same story runs with a simulated write
// error instead: directories standing where the log's next segment files go make rolling to a
// new segment fail (an unwritable log directory), until they are removed. The story runs again
// with account shards and a host thread.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { BytesWrapper } from '@atcute/cbor'
import { segmentFileName } from '../../src/eventlog/segment.ts'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import {
  Consumer,
  eventually,
  HOST_THREAD_FLAGS,
  startTestRelay,
} from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const DID = 'did:plc:fulldiskfulldiskfulldisk'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Mounts a tmpfs of `size` at `dir`; false where mounting is not allowed (or when
 * RELAY_TEST_NO_MOUNT=1 asks for the simulated error, to check that path too).
 */
function mountTmpfs(dir: string, size: string): boolean {
  if (process.env.RELAY_TEST_NO_MOUNT === '1') return false
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Directories where the log's next segment files would go (first seqs 2..`upTo`), so rolling to
 * a new segment fails: the simulated write error. Not where a segment already is (removing the
 * blockers must not remove it). Returns a function that removes them.
 */
async function blockNextSegments(persist: string, upTo: number): Promise<() => Promise<void>> {
  const blockers: string[] = []
  for (let s = 2; s <= upTo; s++) {
    const b = join(persist, segmentFileName(s))
    if (
      await mkdir(b).then(
        () => true,
        () => false,
      )
    )
      blockers.push(b)
  }
  return async () => {
    for (const b of blockers) await rm(b, { recursive: true, force: true })
  }
}

/** Emits commits with 16 KiB records from `repo` on `pds`; remembers their revs in order. */
function committer(repo: TestRepo, pds: FakePds) {
  const revs: string[] = []
  const emit = async (seq: number) => {
    const record = { data: new BytesWrapper(new Uint8Array(16 * 1024).fill(seq % 251)) }
    const path = `app.bsky.feed.post/3l${String(seq).padStart(11, '0')}`
    const msg = await repo.commit([{ action: 'create', path, record }], { seq })
    revs.push(msg.rev)
    pds.emit(seq, messageFrame(msg))
  }
  return { revs, emit }
}

test(
  'a full disk under the event log: stops accepting, says why, serves what it has, resumes',
  {
    timeout: 180_000,
  },
  () => fullDisk([]),
)

// With account shards and a host thread the accepted events reach the log from the shards, and
// the host thread's flow control holds the socket while they wait.
test(
  'a full disk under the event log, with account shards and a host thread: the same',
  {
    timeout: 180_000,
  },
  () => fullDisk([...HOST_THREAD_FLAGS]),
)

async function fullDisk(flags: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-full-disk-'))
  const persist = join(dir, 'persist')
  await mkdir(persist)
  const mounted = mountTmpfs(persist, '3m')
  const filler = join(persist, 'filler')
  if (mounted) await writeFile(filler, Buffer.alloc(2 * 1024 * 1024, 1))
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const repo = new TestRepo(DID, generateKeypair('k256'))
  plc.setDocument(
    DID,
    testDidDocument(DID, pds.url, {
      handle: 'full.test',
      publicKeyMultibase: repo.keypair.publicKeyMultibase,
    }),
  )
  const relay = await startTestRelay({
    plcUrl: plc.url,
    dir,
    // Small segments: the simulated error (no mount) strikes when the log rolls to a new one.
    overrides: { segmentMaxBytes: 64 * 1024 },
    flags,
  })
  let unblock = async () => {}
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await fetch(`${relay.url}/admin/pds/changeLimits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-admin-key' },
      body: JSON.stringify({
        host: pds.hostname,
        per_second: 100_000,
        per_hour: 1e9,
        per_day: 1e9,
      }),
    })
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    const live = new Consumer(relay.wsUrl, 0)
    await live.opened()

    let seq = 0
    const { revs, emit: emitSeq } = committer(repo, pds)
    const emit = () => emitSeq(++seq)
    const log = relay.relay.log
    for (let i = 0; i < 10; i++) await emit()
    await eventually(() => log.flushedSeq >= 10, 20_000, 'the first 10 commits written')

    // No mount here: make the log's next segment files impossible to create.
    if (!mounted) unblock = await blockNextSegments(persist, 400)
    // Write until the log fails (about 1 MiB of room on the tmpfs).
    await (async () => {
      for (let i = 0; i < 400 && log.stats().failing === null; i++) {
        await emit()
        await sleep(5)
      }
    })()
    assert.notEqual(log.stats().failing, null, 'the log ran out of room')

    // It says why: health and metrics.
    const health = await fetch(`${relay.url}/xrpc/_health`)
    assert.equal(health.status, 503)
    const healthBody = JSON.stringify(await health.json())
    assert.match(healthBody, mounted ? /ENOSPC/ : /EISDIR/)
    const metrics = await (
      await fetch(`http://127.0.0.1:${relay.relay.metricsAddress()!.port}/metrics`)
    ).text()
    const ioErrors = Number(/^relay_eventlog_io_errors_total (\d+)/m.exec(metrics)?.[1] ?? 0)
    assert.ok(ioErrors >= 1, 'io errors counted')

    // It stops accepting: the PDS keeps sending, the flushed seq does not move.
    for (let i = 0; i < 20; i++) await emit()
    const stuck = log.flushedSeq
    await sleep(1500)
    assert.equal(log.flushedSeq, stuck, 'nothing more is written while the disk is full')
    assert.ok(stuck < seq)

    // It keeps serving what it has: a new consumer replays every flushed event.
    const reader = new Consumer(relay.wsUrl, 0)
    await reader.until(
      () => reader.messages().length >= stuck,
      20_000,
      `replay of ${stuck} events while full`,
    )
    assert.deepEqual(
      reader
        .messages()
        .slice(0, stuck)
        .map((m) => m.body.seq),
      Array.from({ length: stuck }, (_, i) => i + 1),
    )
    reader.close()

    // Room again: it writes what it held back and goes on.
    if (mounted) await rm(filler)
    await unblock()
    await eventually(() => log.flushedSeq >= seq, 60_000, `all ${seq} commits written`)
    await eventually(
      async () => (await fetch(`${relay.url}/xrpc/_health`)).status === 200,
      20_000,
      'healthy again',
    )
    for (let i = 0; i < 5; i++) await emit()
    await live.until(() => live.messages().length >= seq, 30_000, 'every commit live')
    const got = live.messages().filter((m) => m.type === '#commit')
    assert.deepEqual(
      got.map((m) => m.body.rev),
      revs,
      'every commit exactly once, in order',
    )
    assert.deepEqual(
      live.messages().map((m) => m.body.seq),
      Array.from({ length: seq }, (_, i) => i + 1),
    )
    // Nothing corrupt: a replay from 0 is byte for byte what the live consumer received.
    const replay = new Consumer(relay.wsUrl, 0)
    await replay.until(() => replay.frames.length >= live.frames.length, 30_000, 'replay')
    assert.deepEqual(
      replay.frames.map((f) => Buffer.from(f.bytes).toString('base64')),
      live.frames.map((f) => Buffer.from(f.bytes).toString('base64')),
    )
    replay.close()
    live.close()
  } finally {
    await relay.close({ keepDir: true })
    await pds.close()
    await plc.close()
    if (mounted) execFileSync('umount', [persist])
    await rm(dir, { recursive: true, force: true })
  }
}

test('a relay stopped while its log cannot write still stops and releases the log; the events come again after the restart', {
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-full-disk-stop-'))
  const persist = join(dir, 'persist')
  await mkdir(persist)
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const repo = new TestRepo(DID, generateKeypair('k256'))
  plc.setDocument(
    DID,
    testDidDocument(DID, pds.url, {
      handle: 'full.test',
      publicKeyMultibase: repo.keypair.publicKeyMultibase,
    }),
  )
  const overrides = { segmentMaxBytes: 64 * 1024 }
  let relay = await startTestRelay({ plcUrl: plc.url, dir, overrides })
  const { revs, emit } = committer(repo, pds)
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'subscribed')
    for (let s = 1; s <= 5; s++) await emit(s)
    await eventually(() => relay.relay.log.flushedSeq >= 5, 20_000, 'the first 5 written')
    // The log's next segment files cannot be created: writes past this segment fail.
    const unblock = await blockNextSegments(persist, 200)
    for (let s = 6; s <= 15; s++) await emit(s)
    await eventually(() => relay.relay.log.stats().failing !== null, 20_000, 'the log failing')
    await relay.close({ keepDir: true }) // must not throw or hang
    await unblock()
    relay = await startTestRelay({ plcUrl: plc.url, dir, overrides })
    const consumer = new Consumer(relay.wsUrl, 0)
    await consumer.until(
      () => consumer.messages().filter((m) => m.type === '#commit').length >= 15,
      30_000,
      'all 15 commits after the restart',
    )
    await new Promise((r) => setTimeout(r, 300))
    const commits = consumer.messages().filter((m) => m.type === '#commit')
    assert.deepEqual(
      commits.map((m) => m.body.rev),
      revs,
      'each once, in order',
    )
    consumer.close()
  } finally {
    await relay.close({ keepDir: true })
    await pds.close()
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  }
})
