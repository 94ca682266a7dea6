// Helpers for tests (here and in parts that read the log): temp directories, a manual clock, and
// input frames of a chosen size made with the real output encoder.
// Deliberately not used by production code.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BytesWrapper } from '@atcute/cbor'
import { prepareFrame } from '../protocol/output.ts'
import { EventLog } from './event-log.ts'
import type { AppendInput, EventLogOptions } from './types.ts'

export interface TempDir extends AsyncDisposable {
  readonly path: string
}

export async function tempDir(prefix = 'eventlog-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) }
}

/** A clock tests move by hand. */
export class ManualClock {
  ms: number
  constructor(ms = 1_700_000_000_000) {
    this.ms = ms
  }
  readonly now = (): number => this.ms
}

/** A DID of the usual did:plc shape for index `n`. */
export function testDid(n: number): string {
  return `did:plc:${n.toString(32).padStart(24, 'a')}`
}

/**
 * An append input whose frame is a `#commit`-typed body carrying `blockBytes` bytes of a pattern
 * derived from `n`, so contents can be checked after reading back.
 */
export function testInput(n: number, blockBytes = 64, hostId = 1): AppendInput {
  const blocks = new Uint8Array(blockBytes)
  for (let i = 0; i < blocks.length; i++) blocks[i] = (n * 31 + i) & 0xff
  const did = testDid(n)
  const frame = prepareFrame('#commit', {
    repo: did,
    rev: `3l${String(n).padStart(11, '0')}`,
    blocks: new BytesWrapper(blocks),
    ops: [],
    time: '2024-01-01T00:00:00.000Z',
  })
  return { frame, hostId, upstreamSeq: n, did }
}

/** Opens a log with test-friendly defaults: manual clock, 1 h retention, initialSeq 1. */
export function openTestLog(
  dir: string,
  clock: ManualClock,
  opts: Partial<EventLogOptions> = {},
): Promise<EventLog> {
  return EventLog.open({ dir, initialSeq: 1, retentionMs: 3_600_000, now: clock.now, ...opts })
}
