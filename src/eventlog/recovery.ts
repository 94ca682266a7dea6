// Opening the event log's directory: finds the segment files, checks their records, and repairs
// what a crash can leave behind. The newest segment is always checked record by record; an older
// one whose index file (segment-index.ts) is whole and agrees with the files is taken from it
// instead (its records are checked when read, event-log.ts), and one checked record by record
// and found whole gets an index file for the next open. The newest segment's torn or corrupt
// tail is cut off (the file is truncated and fsync'd) so appends continue right after the last
// good record; an older segment damaged in the middle is left on disk as found and read only up
// to the damage, and the segments after it are kept. Everything found is counted in a
// RecoveryReport. Index files without a sealed segment (strays, and the newest segment's, which
// appends would make wrong) are deleted.
// An empty directory gets its first segment, named after `initialSeq`; since the newest segment
// is never deleted, its name remembers the next seq even when it holds no records.
// Deliberately not here: appending, reading or deleting (event-log.ts), record bytes
// (record-format.ts).
import { open, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { EventLogIoError } from './errors.ts'
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES } from './record-format.ts'
import {
  parseSegmentFileName,
  type ScanResult,
  Segment,
  scanSegment,
  segmentFileName,
} from './segment.ts'
import { parseSegmentIndexFileName, readSegmentIndex, writeSegmentIndex } from './segment-index.ts'
import type { RecoveryReport, SegmentDamage } from './types.ts'

export interface RecoveredLog {
  /** Oldest first; never empty: the last one is the segment appends go to. */
  readonly segments: readonly Segment[]
  readonly report: RecoveryReport
}

export async function recoverSegments(dir: string, initialSeq: number): Promise<RecoveredLog> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    throw new EventLogIoError('open', `cannot list ${dir}`, e)
  }
  const firstSeqs = names
    .map(parseSegmentFileName)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b)
  await removeStrayIndexes(dir, names, new Set(firstSeqs.slice(0, -1)))

  if (firstSeqs.length === 0) {
    const segment = await createSegmentFile(dir, initialSeq)
    return { segments: [segment], report: emptyReport() }
  }

  const segments: Segment[] = []
  const damaged: SegmentDamage[] = []
  let truncatedTail: SegmentDamage | null = null
  let records = 0
  let fromIndex = 0
  for (let i = 0; i < firstSeqs.length; i++) {
    const next = firstSeqs[i + 1]
    const last = next === undefined
    const indexed = last ? null : await indexedSegment(dir, firstSeqs[i]!, next)
    if (indexed) {
      fromIndex++
      records += indexed.count
      segments.push(indexed)
      continue
    }
    const scan = await scanSegment(dir, firstSeqs[i]!, last ? Infinity : next - 1, last)
    records += scan.segment.count
    segments.push(scan.segment)
    if (!scan.damage) {
      // Best effort: without it the next open checks this segment record by record again.
      if (!last) await writeSegmentIndex(dir, scan.segment.sealedIndex()).catch(() => {})
      continue
    }
    const damage = describeDamage(scan)
    if (next === undefined) {
      truncatedTail = damage
      await cutTail(scan)
    } else {
      damaged.push(damage)
    }
  }
  // A log that has never held a record may be moved forward to a later first seq (moving
  // forward never reuses a seq): an operator restarting above seqs a lost log once handed out.
  const only = segments.length === 1 ? segments[0]! : undefined
  if (only && records === 0 && only.firstSeq < initialSeq) {
    await rm(only.path, { force: true })
    const segment = await createSegmentFile(dir, initialSeq)
    return { segments: [segment], report: { ...emptyReport(), segmentsScanned: 1 } }
  }
  return {
    segments,
    report: {
      segmentsScanned: segments.length - fromIndex,
      segmentsFromIndex: fromIndex,
      recordsRecovered: records,
      bytesTruncated: truncatedTail?.bytes ?? 0,
      truncatedTail,
      damagedSegments: damaged,
    },
  }
}

/** Creates an empty segment file (header only), fsyncs it and the directory entry. */
export async function createSegmentFile(dir: string, firstSeq: number): Promise<Segment> {
  const segment = new Segment(dir, firstSeq, true)
  const fh = await open(segment.path, 'w')
  try {
    await fh.write(encodeSegmentHeader(firstSeq), 0, SEGMENT_HEADER_BYTES, 0)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await syncDir(dir)
  return segment
}

/** fsyncs a directory so that file creations and deletions in it survive a machine crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Where, how much and why a scanned segment stops early (its damage must be set). */
export function describeDamage(scan: ScanResult): SegmentDamage {
  const offset = scan.damage!.offset
  return {
    file: scan.segment.path,
    offset,
    bytes: scan.fileSize - offset,
    problem: scan.damage!.problem,
  }
}

/** Truncates the newest segment to its valid prefix; a bad header is rewritten. */
async function cutTail(scan: ScanResult): Promise<void> {
  const { segment, damage } = scan
  try {
    const fh = await open(segment.path, 'r+')
    try {
      if (damage!.problem === 'bad-header') {
        await fh.truncate(0)
        await fh.write(encodeSegmentHeader(segment.firstSeq), 0, SEGMENT_HEADER_BYTES, 0)
      } else {
        await fh.truncate(damage!.offset)
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch (e) {
    throw new EventLogIoError('open', `cannot truncate ${segment.path}`, e)
  }
}

/**
 * Segment `firstSeq` as its index file describes it, when that file is whole and agrees with the
 * segment's size on disk and with the first seq of the segment after it; else null.
 */
async function indexedSegment(
  dir: string,
  firstSeq: number,
  next: number,
): Promise<Segment | null> {
  const index = await readSegmentIndex(dir, firstSeq)
  if (!index || index.firstSeq + index.count !== next) return null
  const size = await stat(join(dir, segmentFileName(firstSeq))).then(
    (s) => s.size,
    () => -1,
  )
  return size === index.size ? Segment.fromSealedIndex(dir, index) : null
}

/**
 * Index files (and unfinished ones) of no sealed segment: their segment is gone (retention cut
 * short by a crash, files deleted by hand) or is the newest one, which appends will change.
 */
async function removeStrayIndexes(
  dir: string,
  names: readonly string[],
  sealed: ReadonlySet<number>,
): Promise<void> {
  for (const name of names) {
    const seq = parseSegmentIndexFileName(name.replace(/\.tmp$/, ''))
    if (seq !== null && (name.endsWith('.tmp') || !sealed.has(seq)))
      await rm(join(dir, name), { force: true })
  }
}

function emptyReport(): RecoveryReport {
  return {
    segmentsScanned: 0,
    segmentsFromIndex: 0,
    recordsRecovered: 0,
    bytesTruncated: 0,
    truncatedTail: null,
    damagedSegments: [],
  }
}
