import assert from 'node:assert/strict'
import {
  appendFile,
  open,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { EventLogCorruptError } from './errors.ts'
import type { EventLog } from './event-log.ts'
import { probeRecord, SEGMENT_HEADER_BYTES } from './record-format.ts'
import { parseSegmentFileName, segmentFileName } from './segment.ts'
import { segmentIndexFileName } from './segment-index.ts'
import { ManualClock, openTestLog, tempDir, testDid, testInput } from './testing.ts'
import type { SegmentDamage } from './types.ts'

const clock = new ManualClock()

async function fill(dir: string, n: number, opts = {}): Promise<void> {
  const log = await openTestLog(dir, clock, opts)
  for (let i = 1; i <= n; i++) log.append(testInput(i, 200))
  await log.close()
}

/** Byte offsets of the records in a segment file, plus its end. */
async function recordOffsets(path: string): Promise<number[]> {
  const buf = await readFile(path)
  const offsets: number[] = []
  let pos = SEGMENT_HEADER_BYTES
  while (pos < buf.length) {
    const r = probeRecord(buf, pos, buf.length)
    assert.ok(r.ok)
    offsets.push(pos)
    pos += r.length
  }
  offsets.push(pos)
  return offsets
}

async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+')
  const b = Buffer.alloc(1)
  await fh.read(b, 0, 1, offset)
  b[0]! ^= 0x40
  await fh.write(b, 0, 1, offset)
  await fh.close()
}

async function seqs(log: EventLog): Promise<number[]> {
  return (await log.read(0, 100_000)).map((r) => r.seq)
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i)

describe('recovery at open', () => {
  it('cuts a torn record off the newest segment and continues after the last good one', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 10)
    const file = join(dir.path, segmentFileName(1))
    const offsets = await recordOffsets(file)
    const cut = offsets[9]! + 57 // in the middle of record 10
    await truncate(file, cut)
    const log = await openTestLog(dir.path, clock)
    assert.equal(log.lastSeq, 9)
    assert.equal(log.recovery.recordsRecovered, 9)
    assert.equal(log.recovery.bytesTruncated, 57)
    assert.deepEqual(log.recovery.truncatedTail, {
      file,
      offset: offsets[9],
      bytes: 57,
      problem: 'torn',
    })
    assert.equal((await stat(file)).size, offsets[9])
    assert.equal(log.append(testInput(100)).seq, 10)
    await log.flush()
    const records = await log.read(0, 100)
    assert.deepEqual(
      records.map((r) => r.seq),
      range(1, 10),
    )
    assert.equal(records[9]!.did, testDid(100))
    await log.close()
  })

  for (const [name, garbage, problem] of [
    ['0xff bytes', Buffer.alloc(100, 0xff), 'bad-length'],
    ['zero bytes', Buffer.alloc(3000, 0), 'bad-length'],
    ['a few bytes', Buffer.from([1, 2]), 'torn'],
    ['a plausible length and noise', plausibleNoise(), 'checksum'],
  ] as const) {
    it(`cuts garbage appended to the newest segment (${name})`, async () => {
      await using dir = await tempDir()
      await fill(dir.path, 10)
      const file = join(dir.path, segmentFileName(1))
      const size = (await stat(file)).size
      await appendFile(file, garbage)
      const log = await openTestLog(dir.path, clock)
      assert.equal(log.lastSeq, 10)
      assert.equal(log.recovery.bytesTruncated, garbage.length)
      assert.equal(log.recovery.truncatedTail?.problem, problem)
      assert.equal((await stat(file)).size, size)
      assert.equal(log.append(testInput(11)).seq, 11)
      await log.flush()
      assert.deepEqual(await seqs(log), range(1, 11))
      await log.close()
    })
  }

  it('detects a flipped byte inside a record by its checksum', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 10)
    const file = join(dir.path, segmentFileName(1))
    const offsets = await recordOffsets(file)
    await flipByte(file, offsets[6]! + 150) // inside record 7's frame
    const log = await openTestLog(dir.path, clock)
    assert.equal(log.lastSeq, 6)
    assert.equal(log.recovery.truncatedTail?.problem, 'checksum')
    assert.equal(log.recovery.truncatedTail?.offset, offsets[6])
    assert.equal(log.recovery.bytesTruncated, offsets[10]! - offsets[6]!)
    assert.deepEqual(await seqs(log), range(1, 6))
    await log.close()
  })

  it('stops a damaged older segment there and keeps the later segments', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 60, { segmentMaxBytes: 4096 })
    const files = (await readdir(dir.path)).map(parseSegmentFileName).filter((s) => s !== null)
    files.sort((a, b) => a - b)
    assert.ok(files.length >= 4)
    const victim = files[1]!
    const file = join(dir.path, segmentFileName(victim))
    const offsets = await recordOffsets(file)
    const sizeBefore = (await stat(file)).size
    await flipByte(file, offsets[2]! + 40) // the victim's third record
    // Without its index file (a log written before they existed, or the file lost), the segment
    // is checked record by record at open.
    await rm(join(dir.path, segmentIndexFileName(victim)))
    const log = await openTestLog(dir.path, clock, { segmentMaxBytes: 4096 })
    assert.equal(log.lastSeq, 60)
    assert.equal(log.recovery.bytesTruncated, 0)
    assert.equal(log.recovery.damagedSegments.length, 1)
    assert.deepEqual(log.recovery.damagedSegments[0], {
      file,
      offset: offsets[2],
      bytes: sizeBefore - offsets[2]!,
      problem: 'checksum',
    })
    assert.equal((await stat(file)).size, sizeBefore, 'an older segment is left as found')
    const lost = range(victim + 2, files[2]! - 1)
    assert.deepEqual(
      await seqs(log),
      range(1, 60).filter((s) => !lost.includes(s)),
    )
    // A cursor inside the hole continues at the next segment.
    assert.equal((await log.read(victim + 3, 1))[0]!.seq, files[2])
    await log.close()
  })

  it('rewrites a torn header of the newest segment (a crash while rolling)', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 5)
    await writeFile(join(dir.path, segmentFileName(6)), Buffer.from('atpr'))
    const log = await openTestLog(dir.path, clock)
    assert.equal(log.lastSeq, 5)
    assert.equal(log.recovery.truncatedTail?.problem, 'bad-header')
    assert.equal(log.append(testInput(6)).seq, 6)
    await log.close()
    const again = await openTestLog(dir.path, clock)
    assert.deepEqual(await seqs(again), range(1, 6))
    assert.equal(again.recovery.truncatedTail, null)
    await again.close()
  })

  it('ignores files that are not segments', async () => {
    await using dir = await tempDir()
    await writeFile(join(dir.path, 'notes.txt'), 'hello')
    await writeFile(join(dir.path, '12.seg'), 'not ours')
    const log = await openTestLog(dir.path, clock, { initialSeq: 7 })
    assert.equal(log.lastSeq, 6)
    assert.equal(log.recovery.segmentsScanned, 0)
    await log.close()
  })

  it('throws EventLogCorruptError when written bytes go bad after open', async () => {
    await using dir = await tempDir()
    const log = await openTestLog(dir.path, clock)
    for (let i = 1; i <= 5; i++) log.append(testInput(i, 200))
    await log.flush()
    const file = join(dir.path, segmentFileName(1))
    const offsets = await recordOffsets(file)
    await flipByte(file, offsets[3]! + 100)
    await assert.rejects(log.read(0, 10), EventLogCorruptError)
    assert.deepEqual(
      (await log.read(0, 3)).map((r) => r.seq),
      [1, 2, 3],
    )
    await log.close()
  })
})

describe('index files of sealed segments', () => {
  const opts = { segmentMaxBytes: 4096 }
  async function segmentSeqs(dir: string): Promise<number[]> {
    const files = (await readdir(dir)).map(parseSegmentFileName).filter((s) => s !== null)
    return files.sort((a, b) => a - b)
  }

  it('takes older segments from their index files and reads them the same', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 60, opts)
    const files = await segmentSeqs(dir.path)
    assert.ok(files.length >= 4)
    for (const seq of files.slice(0, -1)) await stat(join(dir.path, segmentIndexFileName(seq))) // written when sealed
    const log = await openTestLog(dir.path, clock, opts)
    assert.equal(log.recovery.segmentsFromIndex, files.length - 1)
    assert.equal(log.recovery.segmentsScanned, 1)
    assert.equal(log.recovery.recordsRecovered, 60)
    assert.deepEqual(await seqs(log), range(1, 60))
    // A cursor in the middle of an indexed segment starts exactly after it.
    const mid = files[1]! + 1
    assert.deepEqual(
      (await log.read(mid, 3)).map((r) => r.seq),
      [mid + 1, mid + 2, mid + 3],
    )
    assert.equal(log.append(testInput(61, 200)).seq, 61)
    await log.close()
  })

  it('checks a segment record by record when its index file does not agree, then indexes it', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 60, opts)
    const files = await segmentSeqs(dir.path)
    await flipByte(join(dir.path, segmentIndexFileName(files[0]!)), 20) // checksum fails
    await appendFile(join(dir.path, segmentFileName(files[1]!)), Buffer.alloc(7)) // size differs
    let log = await openTestLog(dir.path, clock, opts)
    assert.equal(log.recovery.segmentsFromIndex, files.length - 3)
    assert.equal(log.recovery.segmentsScanned, 3)
    // The 7 stray bytes are damage found by the check, as without index files.
    assert.equal(log.recovery.damagedSegments.length, 1)
    assert.equal(log.recovery.damagedSegments[0]!.bytes, 7)
    assert.deepEqual(await seqs(log), range(1, 60))
    await log.close()
    log = await openTestLog(dir.path, clock, opts)
    assert.equal(log.recovery.segmentsFromIndex, files.length - 2, 'the whole one was indexed')
    await log.close()
  })

  it('finds damage done after sealing when a read reaches it, and reads up to it from then on', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 60, opts)
    const files = await segmentSeqs(dir.path)
    const victim = files[1]!
    const file = join(dir.path, segmentFileName(victim))
    const offsets = await recordOffsets(file)
    await flipByte(file, offsets[2]! + 40) // the victim's third record
    const reported: SegmentDamage[] = []
    let log = await openTestLog(dir.path, clock, {
      ...opts,
      onSegmentDamage: (d) => reported.push(d),
    })
    assert.equal(log.recovery.damagedSegments.length, 0, 'not read at open')
    // The read that reaches it checks the segment as open would have, and goes on from there;
    // a second read reaching it meanwhile waits for that check and reads the same.
    const lost = range(victim + 2, files[2]! - 1)
    const [one, two] = await Promise.all([seqs(log), seqs(log)])
    assert.deepEqual(
      one,
      range(1, 60).filter((s) => !lost.includes(s)),
    )
    assert.deepEqual(two, one)
    assert.deepEqual(reported, [
      { file, offset: offsets[2], bytes: offsets.at(-1)! - offsets[2]!, problem: 'checksum' },
    ])
    assert.equal((await log.read(victim + 3, 1))[0]!.seq, files[2])
    assert.ok(!(await readdir(dir.path)).includes(segmentIndexFileName(victim)), 'index dropped')
    await log.close()
    // The next open checks that segment itself, and reports the same damage.
    log = await openTestLog(dir.path, clock, opts)
    assert.equal(log.recovery.damagedSegments.length, 1)
    assert.equal(log.recovery.damagedSegments[0]!.offset, offsets[2])
    await log.close()
  })

  it('deletes index files with their segments, and strays at open', async () => {
    await using dir = await tempDir()
    await fill(dir.path, 60, opts)
    const files = await segmentSeqs(dir.path)
    await writeFile(join(dir.path, `${segmentIndexFileName(files[0]!)}.tmp`), 'half')
    let log = await openTestLog(dir.path, clock, opts)
    assert.ok(!(await readdir(dir.path)).some((n) => n.endsWith('.tmp')))
    clock.ms += 2 * 3_600_000 // past the 1 h retention
    log.append(testInput(61, 200))
    await log.flush()
    const { segmentsDeleted } = await log.pruneExpired()
    assert.ok(segmentsDeleted >= files.length - 1) // 61 may have started a segment of its own
    assert.equal(log.stats().segments, 1)
    const names = await readdir(dir.path)
    assert.deepEqual(
      names.filter((n) => n.endsWith('.idx')),
      [],
      'only the newest segment is left, and it has no index',
    )
    await log.close()
    // An index whose segment is gone (a crash between the two deletions) goes at open, and so
    // does one of the newest segment, which appends will change.
    const newest = (await segmentSeqs(dir.path)).at(-1)!
    await writeFile(join(dir.path, segmentIndexFileName(3)), 'stray')
    await writeFile(join(dir.path, segmentIndexFileName(newest)), 'not sealed')
    log = await openTestLog(dir.path, clock, opts)
    const left = await readdir(dir.path)
    assert.ok(!left.includes(segmentIndexFileName(3)))
    assert.ok(!left.includes(segmentIndexFileName(newest)))
    await log.close()
  })
})

/** A record-shaped prefix (a sane length) followed by bytes that cannot match its checksum. */
function plausibleNoise(): Buffer {
  const b = Buffer.alloc(400, 0x5a)
  b.writeUInt32BE(300, 0)
  return b
}
