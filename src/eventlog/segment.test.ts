import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { EventLog } from './event-log.ts'
import { INDEX_STRIDE, parseSegmentFileName, segmentFileName } from './segment.ts'
import { ManualClock, openTestLog, tempDir, testDid, testInput } from './testing.ts'

const HOUR = 3_600_000

async function segmentFiles(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .map(parseSegmentFileName)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b)
}

async function appendN(log: EventLog, from: number, n: number, size: number): Promise<void> {
  for (let i = from; i < from + n; i++) log.append(testInput(i, size))
  await log.flush()
}

describe('segment files', () => {
  it('names files by first seq, sortable, and parses them back', () => {
    assert.equal(segmentFileName(1), '0000000000000001.seg')
    assert.equal(segmentFileName(Number.MAX_SAFE_INTEGER), '9007199254740991.seg')
    assert.equal(parseSegmentFileName('0000000000000042.seg'), 42)
    assert.equal(parseSegmentFileName('0000000000000000.seg'), null)
    assert.equal(parseSegmentFileName('42.seg'), null)
    assert.equal(parseSegmentFileName('LOCK'), null)
  })

  it('rolls past segmentMaxBytes and reads across segment boundaries', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), { segmentMaxBytes: 64 * 1024 })
    // ~1 KB records: about 60 per segment, and the index stride is crossed too.
    await appendN(log, 1, 1000, 900)
    const files = await segmentFiles(dir.path)
    assert.ok(files.length >= 15, `${files.length} segments`)
    assert.equal(files[0], 1)
    for (const f of files) {
      const size = (await stat(join(dir.path, segmentFileName(f)))).size
      assert.ok(size <= 64 * 1024, `segment ${f} has ${size} bytes`)
    }
    assert.equal(log.stats().segments, files.length)
    // Every cursor, including the ones at segment boundaries, reads the right run.
    const cursors = new Set([0, 1, 999, 1000, ...files.flatMap((f) => [f - 2, f - 1, f, f + 1])])
    for (const after of cursors) {
      const got = await log.read(after, 150)
      const first = Math.max(1, after + 1)
      assert.equal(got.length, Math.min(150, Math.max(0, 1000 - first + 1)), `after ${after}`)
      got.forEach((r, i) => {
        assert.equal(r.seq, first + i)
        assert.equal(r.did, testDid(first + i))
      })
    }
    const all = await log.read(0, 5000)
    assert.equal(all.length, 1000)
    // Paging through (the way playback does) continues exactly where each read stopped.
    for (const page of [1, 7, 64, 300]) {
      let cursor = 0
      for (;;) {
        const got = await log.read(cursor, page)
        if (got.length === 0) break
        assert.ok(got.length <= page)
        assert.deepEqual(
          got.map((r) => r.seq),
          got.map((_, i) => cursor + 1 + i),
        )
        cursor = got.at(-1)!.seq
      }
      assert.equal(cursor, 1000)
    }
    await log.close()
  })

  it('keeps reads right inside a large segment at every index stride', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock())
    const n = INDEX_STRIDE * 4 + 17
    await appendN(log, 1, n, 16)
    for (let k = 0; k <= 4; k++) {
      for (const d of [-1, 0, 1]) {
        const after = k * INDEX_STRIDE + d
        if (after < 0) continue
        const got = await log.read(after, 3)
        assert.deepEqual(
          got.map((r) => r.seq),
          [after + 1, after + 2, after + 3].filter((s) => s <= n),
        )
      }
    }
    await log.close()
  })

  it('writes a record larger than the segment limit into a segment of its own', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, new ManualClock(), { segmentMaxBytes: 8192 })
    await appendN(log, 1, 2, 100)
    await appendN(log, 3, 1, 20_000)
    await appendN(log, 4, 2, 100)
    assert.deepEqual(await segmentFiles(dir.path), [1, 3, 4])
    const got = await log.read(0, 10)
    assert.deepEqual(
      got.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    )
    assert.ok(got[2]!.frame.length > 20_000)
    await log.close()
  })
})

describe('retention', () => {
  it('deletes only whole segments older than the window, never the active one', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    const log = await openTestLog(dir.path, clock, {
      segmentMaxBytes: 16 * 1024,
      retentionMs: 2 * HOUR,
    })
    // Hour 0: seqs 1..100; hour 1: 101..200; hour 2: 201..300 (each ~1 KB; several segments).
    for (let h = 0; h < 3; h++) {
      for (let i = 1; i <= 100; i++) {
        clock.ms += 1
        log.append(testInput(h * 100 + i, 900))
      }
      await log.flush()
      if (h < 2) clock.ms += HOUR
    }
    const before = await segmentFiles(dir.path)
    const bytesBefore = log.stats().bytes
    assert.equal(log.oldestSeq(), 1)
    // Now is just past hour 2: records of hour 0 are older than 2 h, hour 1's are not.
    const r1 = await log.pruneExpired()
    assert.ok(r1.segmentsDeleted > 0)
    const oldest = log.oldestSeq()!
    assert.ok(oldest > 1 && oldest <= 101, `oldest ${oldest}`)
    const after = await segmentFiles(dir.path)
    assert.equal(after.length, before.length - r1.segmentsDeleted)
    assert.equal(after[0], oldest)
    assert.equal(log.stats().bytes, bytesBefore - r1.bytesDeleted)
    // The segment holding seq 100 also holds seq 101 or later, so it stays whole.
    assert.equal((await log.read(0, 1))[0]!.seq, oldest)
    assert.equal((await log.pruneExpired()).segmentsDeleted, 0, 'nothing more is expired')

    // Far in the future everything is expired, but the active segment stays and remembers seqs.
    clock.ms += 100 * HOUR
    await log.pruneExpired()
    const left = await segmentFiles(dir.path)
    assert.equal(left.length, 1)
    assert.equal(log.lastSeq, 300)
    await log.close()
  })

  it('remembers the last seq when every record was pruned', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    let log = await openTestLog(dir.path, clock, { segmentMaxBytes: 4096, retentionMs: HOUR })
    await appendN(log, 1, 30, 500)
    // One more record forces a roll into an empty-but-for-it segment, then a fresh roll.
    clock.ms += 2 * HOUR
    await log.pruneExpired()
    assert.ok((await segmentFiles(dir.path)).length === 1)
    await log.close()
    log = await openTestLog(dir.path, clock, { segmentMaxBytes: 4096, retentionMs: HOUR })
    assert.equal(log.lastSeq, 30)
    assert.equal(log.append(testInput(31)).seq, 31)
    await log.close()
  })

  it('never returns a run with a hole when a prune races a read', async () => {
    await using dir = await tempDir()
    const clock = new ManualClock()
    const log = await openTestLog(dir.path, clock, { segmentMaxBytes: 8192, retentionMs: HOUR })
    await appendN(log, 1, 100, 500)
    clock.ms += 2 * HOUR
    await appendN(log, 101, 10, 500)
    const pending = log.read(0, 1000)
    await log.pruneExpired()
    const got = await pending
    // Whatever it saw is a run without holes (it may stop early where a file vanished).
    assert.ok(got.length > 0 && got.at(-1)!.seq <= 110)
    for (let i = 1; i < got.length; i++) assert.equal(got[i]!.seq, got[i - 1]!.seq + 1)
    const now = await log.read(0, 1000)
    assert.equal(now[0]!.seq, log.oldestSeq())
    await log.close()
  })
})
