// The SQLite archive's writer thread (writer-thread.ts): random changes over several repos made
// through the thread leave exactly the rows of the chunked transaction, and the main thread's
// connection reads each write as soon as its promise settles; a change the database refuses
// fails alone, as a DatabaseError with its reason; an archive the thread cannot open fails every
// write instead of leaving it waiting; a thread that dies fails what it held and is replaced;
// closing lets the thread finish what it was given, and refuses writes after.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DatabaseError } from '../db/errors.ts'
import type { RepoChange } from './repo-change.ts'
import { cidToBytes } from './repo-store.ts'
import {
  testBlocks as blocks,
  RepoModel,
  random,
  blockRows as rows,
  tempArchive,
  writeAlongsideChunked,
} from './testing.ts'
import { ArchiveWriterThread } from './writer-thread.ts'

const change = (
  commit: [string, Uint8Array],
  rev: string,
  record: [string, Uint8Array],
): RepoChange => ({
  head: { rev, commitCid: commit[0], dataCid: commit[0], commitBlock: commit[1] },
  addNodes: new Map(),
  removeNodes: [],
  addRecords: [record],
  removeRecords: [],
})

test('writes made through the thread leave the rows of the chunked transaction', async () => {
  await using threaded = await tempArchive('sqlite', { writerThread: true })
  await using chunked = await tempArchive('sqlite')
  assert.ok(threaded.adb.writer, 'the archive writes through its thread')
  await writeAlongsideChunked({
    tested: threaded,
    reference: chunked,
    seed: 3,
    repos: 3,
    steps: 40,
  })
  const answered = threaded.adb.writerStats!.answered
  assert.ok(answered >= 120, `${answered} writes answered by the thread`)
  // Its busy time (exported as relay_thread_busy_seconds_total{thread="archive_writer"}).
  assert.ok(threaded.adb.writerStats!.busyMs > 0)
  // Deletion and compaction's sweep go through the thread too.
  const stored = await rows(threaded, 'did:plc:repo0')
  assert.ok(stored.blocks.length > 0)
  assert.equal(
    await threaded.store.deleteBlocks('did:plc:repo0', [cidToBytes(stored.blocks[0]!.cid)]),
    1,
  )
  assert.equal(await threaded.store.delete('did:plc:repo1'), true)
  assert.equal(await threaded.store.head('did:plc:repo1'), undefined)
})

test('a change the database refuses fails alone, as a DatabaseError with its reason', async () => {
  await using a = await tempArchive('sqlite', { writerThread: true })
  const [commit] = await blocks('commit', 1)
  const [r1, r2] = await blocks('record', 2)
  // A head without a rev breaks the NOT NULL rule of `repo.rev`: the database refuses it.
  const fine = change(commit!, '3laaaaaaaaaa2', r2!)
  const refused: RepoChange = { ...fine, head: { ...fine.head, rev: null as unknown as string } }
  const [bad, good] = await Promise.allSettled([
    a.store.apply('did:plc:bad', refused),
    a.store.apply('did:plc:good', change(commit!, '3laaaaaaaaaa2', r1!)),
  ])
  assert.equal(bad.status, 'rejected')
  const err = (bad as PromiseRejectedResult).reason
  assert.ok(err instanceof DatabaseError, String(err))
  assert.equal(err.operation, 'repos.apply')
  assert.equal(err.reason, 'constraint')
  assert.deepEqual(good, { status: 'fulfilled', value: true })
  assert.equal(await a.store.head('did:plc:bad'), undefined)
})

test('an archive the thread cannot open fails the start, leaving nothing running', async () => {
  const errors: Error[] = []
  // A file cannot hold a directory: the thread's open fails.
  await assert.rejects(
    ArchiveWriterThread.start('/dev/null/repos.sqlite', (e) => errors.push(e)),
    (err: unknown) =>
      err instanceof DatabaseError &&
      err.reason === 'unavailable' &&
      /\/dev\/null/.test(String((err.cause as Error).message)),
  )
  assert.equal(errors.length, 1)
})

test('a thread that dies fails the writes it held; the next thread takes the next ones', async () => {
  const errors: Error[] = []
  await using thread = await ArchiveWriterThread.start('/unused', (e) => errors.push(e), {
    workerUrl: new URL('../../test/support/dying-worker.ts', import.meta.url),
  })
  const [commit] = await blocks('commit', 1)
  const [record] = await blocks('record', 1)
  const writes = [
    thread.apply('did:plc:x', change(commit!, '3laaaaaaaaaa2', record!), '', undefined),
    thread.delete('did:plc:y'),
  ]
  for (const w of writes)
    await assert.rejects(
      w,
      (err: unknown) => err instanceof DatabaseError && err.reason === 'unavailable',
    )
  assert.equal(thread.stats.restarts, 1)
  const busy = thread.stats.busyMs
  // It died within seconds of starting: the next one waits out a backoff instead of looping.
  assert.equal(thread.stats.backingOff, true)
  assert.match(errors[0]!.message, /exited with code 1/)
  // Not left waiting: the replacement takes it (and, being the same dying code, fails it).
  await assert.rejects(thread.delete('did:plc:z'), /repos\.delete failed \(unavailable\)/)
  assert.equal(thread.stats.restarts, 2)
  assert.equal(thread.stats.inFlight, 0)
  // The dead threads' busy time stays in the total.
  assert.ok(thread.stats.busyMs >= busy)
})

test('compaction vacuums through the thread while commits are written: nothing fails', async () => {
  await using a = await tempArchive('sqlite', { writerThread: true })
  const pools = {
    nodes: await blocks('node', 30),
    records: await blocks('record', 20),
    commit: (await blocks('commit', 1))[0]!,
  }
  const next = random(5)
  const dids = Array.from({ length: 12 }, (_, i) => `did:plc:r${i}`)
  const model = new Map(dids.map((d) => [d, new RepoModel()]))
  for (let step = 0; step < 15; step++) {
    const rev = `3l${String(1000 + step)}aaaaaaa`
    const heads = await Promise.all(dids.map((d) => a.store.head(d)))
    const written = await Promise.all([
      ...dids.map((did, i) =>
        a.store.apply(did, model.get(did)!.change(next, pools, rev), heads[i]),
      ),
      a.adb.reclaim().then(() => true),
      a.store.deleteBlocks(dids[step % dids.length]!, [new Uint8Array(36)]).then(() => true),
    ])
    assert.ok(
      written.every((w) => w === true),
      `step ${step}`,
    )
  }
  for (const did of dids) model.get(did)!.check(await rows(a, did), did)
  // The vacuum was the thread's to run: the main connection never writes beside it.
  const answered = a.adb.writerStats!.answered
  await a.adb.reclaim()
  assert.equal(a.adb.writerStats!.answered, answered + 1)
})

test('closing lets the thread finish the writes it was given, and refuses new ones', async () => {
  const a = await tempArchive('sqlite', { writerThread: true })
  const [commit] = await blocks('commit', 1)
  const [record] = await blocks('record', 1)
  const writing = a.store.apply('did:plc:q', change(commit!, '3laaaaaaaaaa2', record!))
  await a.adb.close()
  assert.equal(await writing, true)
  await assert.rejects(
    a.store.apply('did:plc:r', change(commit!, '3laaaaaaaaaa3', record!)),
    (err: unknown) => err instanceof DatabaseError && err.reason === 'closed',
  )
  await a[Symbol.asyncDispose]()
})
