import assert from 'node:assert/strict'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { decodeFrame } from '../protocol/frame.ts'
import { frameWithSeq } from '../protocol/output.ts'
import {
  EventLogClosedError,
  EventLogInputError,
  EventLogIoError,
  EventLogLockedError,
} from './errors.ts'
import type { EventLog } from './event-log.ts'
import { segmentFileName } from './segment.ts'
import { ManualClock, openTestLog, tempDir, testDid, testInput } from './testing.ts'
import type { LogRecord, ReusedReadBuffer } from './types.ts'

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

/** Waits (bounded) until `cond` holds, polling on the event loop. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

async function appendN(log: EventLog, from: number, n: number, size = 64): Promise<void> {
  for (let i = from; i < from + n; i++) log.append(testInput(i, size))
  await log.flush()
}

describe('EventLog append and read', () => {
  it('assigns seqs from initialSeq and reads back exactly what was appended', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    const log = await openTestLog(dir.path, clock, { initialSeq: 1000 })
    assert.equal(log.lastSeq, 999)
    assert.equal(log.flushedSeq, 999)
    assert.equal(log.oldestSeq(), null)
    const appended: LogRecord[] = []
    for (let i = 0; i < 10; i++) {
      clock.ms += 1
      const input = testInput(i, 100 + i, i % 3)
      const rec = log.append(input)
      appended.push(rec)
      assert.equal(rec.seq, 1000 + i)
      assert.equal(rec.type, '#commit')
      assert.equal(rec.timeMs, clock.ms)
      assert.ok(sameBytes(rec.frame, frameWithSeq(input.frame, rec.seq)))
      const decoded = decodeFrame(rec.frame)
      assert.equal(decoded.op === 1 && decoded.body.seq, rec.seq)
    }
    assert.equal(log.lastSeq, 1009)
    assert.ok(log.pendingBytes > 0)
    assert.deepEqual(await log.read(0, 100), [], 'nothing is readable before it is written')
    await log.flush()
    assert.equal(log.pendingBytes, 0)
    assert.equal(log.flushedSeq, 1009)
    assert.equal(log.oldestSeq(), 1000)
    const read = await log.read(0, 100)
    assert.equal(read.length, 10)
    for (let i = 0; i < 10; i++) {
      const a = appended[i]!
      const r = read[i]!
      assert.deepEqual({ ...r, frame: null }, { ...a, frame: null })
      assert.ok(sameBytes(r.frame, a.frame))
    }
    await log.close()
  })

  it('keeps a writer’s note with its record, and refuses one that cannot be stored', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock())
    log.append({ ...testInput(1), note: 'upstream=deactivated' })
    log.append(testInput(2))
    assert.throws(
      () => log.append({ ...testInput(3), note: 'a\0b' }),
      (e) => e instanceof EventLogInputError && e.reason === 'bad-note',
    )
    assert.throws(
      () => log.append({ ...testInput(3), note: 'x'.repeat(300) }),
      (e) => e instanceof EventLogInputError && e.reason === 'bad-note',
    )
    await log.flush()
    const read = await log.read(0, 10)
    assert.deepEqual(
      read.map((r) => r.note),
      ['upstream=deactivated', undefined],
    )
    await log.close()
    const reopened = await openTestLog(dir.path, new ManualClock())
    assert.equal((await reopened.read(0, 1))[0]!.note, 'upstream=deactivated')
    await reopened.close()
  })

  it('writes on its own within the flush interval', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), { flushIntervalMs: 1 })
    log.append(testInput(1))
    log.append(testInput(2))
    await until(() => log.flushedSeq === 2, 'the timer flush')
    assert.equal((await log.read(0, 10)).length, 2)
    await log.close()
  })

  it('answers reads at every cursor position', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), { initialSeq: 5 })
    await appendN(log, 0, 600, 32)
    const last = log.lastSeq
    assert.equal(last, 604)
    for (const after of [0, 1, 4, 5, 6, 259, 260, 261, 300, 515, 516, 603, 604, 605, 10_000]) {
      const got = await log.read(after, 1000)
      const first = Math.max(after + 1, 5)
      const expected = Math.max(0, last - first + 1)
      assert.equal(got.length, expected, `after ${after}`)
      got.forEach((r, i) => {
        assert.equal(r.seq, first + i)
        assert.equal(r.upstreamSeq, first + i - 5)
      })
    }
    // maxRecords bounds every read.
    const some = await log.read(100, 7)
    assert.deepEqual(
      some.map((r) => r.seq),
      [101, 102, 103, 104, 105, 106, 107],
    )
    assert.deepEqual(await log.read(0, 0), [])
    await log.close()
  })

  it('reads into a buffer the reader reuses: the first of each read, grown when too small', async () => {
    await using dir = await tempDir()
    // Small segments, so that some reads span two of them (the second gets a buffer of its own).
    const log = await openTestLog(dir.path, new ManualClock(), { segmentMaxBytes: 4096 })
    for (let i = 0; i < 300; i++) log.append(testInput(i, 40 + (i % 7) * 30))
    await log.flush()
    const reuse: ReusedReadBuffer = { buffer: undefined }
    let after = 0
    let grownTo = 0
    while (after < log.lastSeq) {
      const expected = await log.read(after, 25)
      const copies = expected.map((r) => Buffer.from(r.frame))
      const got = await log.read(after, 25, reuse)
      assert.deepEqual(
        got.map((r) => r.seq),
        expected.map((r) => r.seq),
      )
      for (const [i, r] of got.entries()) assert.ok(sameBytes(r.frame, copies[i]!), `seq ${r.seq}`)
      assert.equal(got[0]!.frame.buffer, reuse.buffer!.buffer, 'the first record is in it')
      assert.ok(reuse.buffer!.length >= grownTo, 'never shrinks')
      grownTo = reuse.buffer!.length
      after = got.at(-1)!.seq
    }
    // The same memory, overwritten by the next read: a reader copies what it keeps.
    const held = reuse.buffer
    await log.read(0, 25, reuse)
    assert.equal(reuse.buffer, held)
    await log.close()
  })

  it('calls onFlush with exactly the written records, in order, as flushedSeq advances', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock())
    const seen: number[] = []
    const batches: number[] = []
    const off = log.onFlush((records) => {
      batches.push(records.length)
      for (const r of records) seen.push(r.seq)
      assert.equal(log.flushedSeq, records.at(-1)!.seq)
    })
    await appendN(log, 1, 5)
    await appendN(log, 6, 3)
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8])
    assert.deepEqual(batches, [5, 3])
    off()
    await appendN(log, 9, 2)
    assert.equal(seen.length, 8, 'an unsubscribed listener is not called')
    await log.close()
  })

  it('keeps going when a listener throws', async () => {
    await using dir = await tempDir()
    const caught: unknown[] = []
    const log = await openTestLog(dir.path, new ManualClock(), {
      onListenerError: (e) => caught.push(e),
    })
    let calls = 0
    log.onFlush(() => {
      throw new Error('listener bug')
    })
    log.onFlush(() => calls++)
    await appendN(log, 1, 2)
    await appendN(log, 3, 2)
    assert.equal(calls, 2)
    assert.equal(caught.length, 2)
    assert.equal(log.flushedSeq, 4)
    await log.close()
  })

  it('scans every retained record after a cursor', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), { segmentMaxBytes: 8192 })
    await appendN(log, 1, 1500, 40)
    let expected = 1001
    for await (const r of log.scan(1000)) {
      assert.equal(r.seq, expected++)
      assert.equal(r.did, testDid(r.seq))
    }
    assert.equal(expected, 1501)
    let count = 0
    for await (const _ of log.scan(0)) count++
    assert.equal(count, 1500)
    await log.close()
  })

  it('rejects inputs it cannot store, without using a seq', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock())
    const good = testInput(1)
    const bad: [Partial<typeof good>, string][] = [
      [{ hostId: -1 }, 'bad-host-id'],
      [{ hostId: 2 ** 32 }, 'bad-host-id'],
      [{ hostId: 1.5 }, 'bad-host-id'],
      [{ upstreamSeq: -1 }, 'bad-upstream-seq'],
      [{ upstreamSeq: 2 ** 53 }, 'bad-upstream-seq'],
      [{ did: '' }, 'bad-did'],
      [{ frame: { ...good.frame, type: '' } }, 'bad-type'],
    ]
    for (const [patch, reason] of bad) {
      assert.throws(
        () => log.append({ ...good, ...patch }),
        (e) => e instanceof EventLogInputError && e.reason === reason,
      )
    }
    assert.equal(log.lastSeq, 0)
    assert.equal(log.append(good).seq, 1)
    await log.close()
  })

  it('refuses seqs at 2^53', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), {
      initialSeq: Number.MAX_SAFE_INTEGER,
    })
    assert.equal(log.append(testInput(1)).seq, Number.MAX_SAFE_INTEGER)
    assert.throws(
      () => log.append(testInput(2)),
      (e) => e instanceof EventLogInputError && e.reason === 'seq-exhausted',
    )
    await log.close()
  })
})

describe('EventLog lifecycle', () => {
  it('close writes and syncs everything; afterwards appends and reads throw', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    const log = await openTestLog(dir.path, clock, { flushIntervalMs: 60_000 })
    for (let i = 1; i <= 20; i++) log.append(testInput(i))
    await log.close()
    await log.close() // idempotent
    assert.throws(() => log.append(testInput(21)), EventLogClosedError)
    await assert.rejects(log.read(0, 10), EventLogClosedError)
    await assert.rejects(log.flush(), EventLogClosedError)
    const again = await openTestLog(dir.path, clock)
    assert.equal(again.lastSeq, 20)
    assert.equal((await again.read(0, 100)).length, 20)
    await again.close()
  })

  it('continues seqs after reopening, ignoring initialSeq', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    let log = await openTestLog(dir.path, clock, { initialSeq: 50 })
    await appendN(log, 1, 3)
    await log.close()
    log = await openTestLog(dir.path, clock, { initialSeq: 1 })
    assert.equal(log.lastSeq, 52)
    assert.equal(log.recovery.recordsRecovered, 3)
    assert.equal(log.recovery.bytesTruncated, 0)
    assert.equal(log.append(testInput(4)).seq, 53)
    await log.close()
    log = await openTestLog(dir.path, clock)
    assert.deepEqual(
      (await log.read(0, 10)).map((r) => r.seq),
      [50, 51, 52, 53],
    )
    await log.close()
  })

  it('keeps a second writer off the directory until the first closes', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    const log = await openTestLog(dir.path, clock)
    await assert.rejects(openTestLog(dir.path, clock, { lockWaitMs: 100 }), (e) => {
      assert.ok(e instanceof EventLogLockedError)
      assert.equal(e.pid, process.pid)
      return true
    })
    await log.close()
    const again = await openTestLog(dir.path, clock, { lockWaitMs: 100 })
    await again.close()
  })

  it('counts write calls and syncs, and fsyncs every batch when the interval is 0', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), { fsyncIntervalMs: 0 })
    await appendN(log, 1, 100)
    await appendN(log, 101, 100)
    const s = log.stats()
    assert.equal(s.writeCalls, 2, 'one write per batch')
    assert.equal(s.recordsWritten, 200)
    assert.equal(s.syncs, 2)
    assert.equal(s.ioErrors, 0)
    assert.equal(s.lastSeq, 200)
    assert.equal(s.flushedSeq, 200)
    assert.equal(s.pendingBytes, 0)
    await log.sync()
    assert.equal(log.stats().syncs, 2, 'nothing new to sync')
    await log.close()
  })
  it('keeps records buffered through a failed roll and writes them once it can', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), {
      segmentMaxBytes: 4096,
      flushIntervalMs: 1,
    })
    await appendN(log, 1, 3, 500)
    // Directories where the next segment files would go make creating them fail (EISDIR).
    const blockers = Array.from({ length: 40 }, (_, i) => join(dir.path, segmentFileName(i + 2)))
    for (const b of blockers) await mkdir(b)
    for (let i = 4; i <= 25; i++) log.append(testInput(i, 500))
    await assert.rejects(
      log.flush(),
      (e) => e instanceof EventLogIoError && e.operation === 'roll' && e.code === 'EISDIR',
    )
    assert.ok(log.flushedSeq < 25)
    assert.ok(log.pendingBytes > 0)
    assert.ok(log.stats().ioErrors >= 1)
    assert.deepEqual(log.stats().failing, { operation: 'roll', code: 'EISDIR' })
    const visible = await log.read(0, 100)
    assert.equal(visible.length, log.flushedSeq, 'what was written before the failure is readable')
    for (const b of blockers) await rm(b, { recursive: true })
    await until(() => log.flushedSeq === 25, 'the retried write', 20_000)
    assert.equal(log.pendingBytes, 0)
    assert.equal(log.stats().failing, null, 'no longer failing once a write succeeded')
    assert.deepEqual(
      (await log.read(0, 100)).map((r) => r.seq),
      Array.from({ length: 25 }, (_, i) => i + 1),
    )
    await log.close()
  })
})
