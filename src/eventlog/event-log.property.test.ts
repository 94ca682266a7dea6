// Property: under any sequence of appends, flushes, reads, reopenings and torn tails (a crash
// that loses the end of the newest file), seqs are gapless and never reused, and what is read
// back is exactly what was appended under that seq.
import assert from 'node:assert/strict'
import { readdir, readFile, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { EventLog } from './event-log.ts'
import { probeRecord, SEGMENT_HEADER_BYTES } from './record-format.ts'
import { parseSegmentFileName } from './segment.ts'
import { ManualClock, openTestLog, tempDir, testInput } from './testing.ts'

type Op =
  | { readonly kind: 'append'; readonly sizes: readonly number[] }
  | { readonly kind: 'flush' }
  | { readonly kind: 'read'; readonly back: number; readonly max: number }
  | { readonly kind: 'reopen' }
  | { readonly kind: 'tear'; readonly fraction: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      sizes: fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 30 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      back: fc.integer({ min: -2, max: 80 }),
      max: fc.integer({ min: 1, max: 100 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tear' as const),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
)

interface Expected {
  readonly input: number
  readonly size: number
  readonly frame: Buffer
}

describe('EventLog property', () => {
  it('keeps seqs gapless and contents exact across flushes, reopens and torn tails', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.array(opArb, { maxLength: 25 }), run),
      { numRuns: 100 },
    )
  })
})

async function run(initialSeq: number, ops: readonly Op[]): Promise<void> {
  await using dir = await tempDir()
  const clock = new ManualClock()
  const opts = { initialSeq, segmentMaxBytes: 8192, flushIntervalMs: 1_000_000 }
  const model = new Map<number, Expected>() // seq → what was appended under it
  let next = initialSeq
  let counter = 0
  let log: EventLog = await openTestLog(dir.path, clock, opts)
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'append':
          for (const size of op.sizes) {
            const input = counter++
            const rec = log.append(testInput(input, size))
            assert.equal(rec.seq, next, 'seqs are gapless')
            model.set(rec.seq, { input, size, frame: Buffer.from(rec.frame) })
            next++
          }
          break
        case 'flush':
          await log.flush()
          assert.equal(log.flushedSeq, next - 1)
          break
        case 'read': {
          const after = log.flushedSeq - op.back
          await check(log, after, op.max, model)
          break
        }
        case 'reopen':
          await log.close()
          log = await openTestLog(dir.path, clock, opts)
          assert.equal(log.lastSeq, next - 1, 'a clean reopen continues the seqs')
          break
        case 'tear': {
          await log.close()
          const kept = await tearNewest(dir.path, op.fraction)
          for (const seq of [...model.keys()]) if (seq > kept) model.delete(seq)
          log = await openTestLog(dir.path, clock, opts)
          assert.equal(log.lastSeq, kept, 'a torn tail continues after the last good record')
          next = kept + 1
          break
        }
      }
    }
    await log.flush()
    await check(log, 0, Number.MAX_SAFE_INTEGER, model)
  } finally {
    await log.close()
  }
}

/** Reads from `after` and compares with the model: the next `max` seqs, exact bytes. */
async function check(
  log: EventLog,
  after: number,
  max: number,
  model: Map<number, Expected>,
): Promise<void> {
  const got = await log.read(after, max)
  const first = Math.max(after + 1, log.oldestSeq() ?? Number.POSITIVE_INFINITY)
  const want = Math.max(0, Math.min(max, log.flushedSeq - first + 1))
  assert.equal(got.length, want)
  got.forEach((r, i) => {
    assert.equal(r.seq, first + i)
    const e = model.get(r.seq)
    assert.ok(e, `seq ${r.seq} was appended`)
    assert.equal(r.upstreamSeq, e.input)
    assert.ok(Buffer.from(r.frame).equals(e.frame), `frame of seq ${r.seq}`)
  })
}

/**
 * Truncates the newest segment at `fraction` of its record bytes (a crash that lost its end) and
 * returns the last seq still complete on disk.
 */
async function tearNewest(dir: string, fraction: number): Promise<number> {
  const firsts = (await readdir(dir))
    .map(parseSegmentFileName)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b)
  const first = firsts.at(-1)!
  const path = join(dir, `${String(first).padStart(16, '0')}.seg`)
  const buf = await readFile(path)
  const cut = SEGMENT_HEADER_BYTES + Math.floor((buf.length - SEGMENT_HEADER_BYTES) * fraction)
  let pos = SEGMENT_HEADER_BYTES
  let complete = 0
  for (;;) {
    const r = probeRecord(buf, pos, buf.length)
    if (!r.ok || pos + r.length > cut) break
    pos += r.length
    complete++
  }
  await truncate(path, cut)
  return first + complete - 1
}
