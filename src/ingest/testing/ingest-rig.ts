// Test support for ingest's unit tests (ingest.test.ts, ingest-slots.test.ts,
// verify-retry.test.ts): an Ingest with the real account cache and takedown set, and small
// recording stand-ins below it for its one-method interfaces (a log that keeps what was
// appended, DID documents from a table, two hosts with slots counted as told). Deliberately not
// used by production code.
import assert from 'node:assert/strict'
import { AccountCache, type AccountPersistence } from '../../accounts/account-cache.ts'
import type { AccountState } from '../../accounts/account-state.ts'
import { Takedowns } from '../../accounts/takedowns.ts'
import type { AppendInput, LogRecord } from '../../eventlog/types.ts'
import type { Identity, SigningKey } from '../../identity/did-document.ts'
import { decodeFrame } from '../../protocol/frame.ts'
import { frameWithSeq } from '../../protocol/output.ts'
import type { Drop } from '../drop-counter.ts'
import { Ingest } from '../ingest.ts'
import type { IngestDeps, IngestMirror } from '../types.ts'

export const ALICE = 'did:plc:aliceaaaaaaaaaaaaaaaaaaa'
export const BOB = 'did:plc:bobbbbbbbbbbbbbbbbbbbbbb'
export const CAROL = 'did:plc:carolccccccccccccccccccc'
export const HOSTS = new Map([
  [1, 'pds-one.example.test'],
  [2, 'pds-two.example.test'],
])
export const T = '2025-01-01T00:00:00.000Z'

export interface Rig {
  readonly ingest: Ingest
  readonly accounts: AccountCache
  readonly takedowns: Takedowns
  readonly stored: Map<string, AccountState>
  /** What was appended to the log, decoded. */
  readonly appended: { hostId: number; type: string; body: Record<string, unknown> }[]
  readonly drops: Drop[]
  readonly settled: { hostId: number; seq: number; dropped: boolean }[]
  /** Calls in order: `flush`, `oldest`. */
  readonly calls: string[]
  /** Repairs asked for, as `did@hostId`. */
  readonly repairs: string[]
  /** An account already known on host `hostId`. */
  known(did: string, hostId: number, localStatus?: AccountState['localStatus']): Promise<void>
  /** The next account loads fail with this error, one per load, in order. */
  readonly loadFailures: Error[]
  /** The next log appends fail with this error, one per append, in order. */
  readonly appendFailures: Error[]
  /** Account count changes told to the hosts: [hostId, delta, did]. */
  readonly counts: [number, number, string | undefined][]
}

export interface RigOptions {
  /** Every host's slots, counted as the rig is told (default: 0 of 100). */
  readonly slots?: { count: number; limit: number }
  /** Slots asked of another thread (as in an account shard). */
  readonly askSlot?: (hostId: number, did: string) => Promise<boolean>
  /** Archival mode's mirror. */
  readonly mirror?: IngestMirror
  /** Verifies commits (default: none are expected, and any fails the test). */
  readonly verify?: IngestDeps['verify']
  /** Accounts' signing keys, as their DID documents publish them (default: none). */
  readonly signingKeys?: Record<string, SigningKey>
}

export function rig(documents: Record<string, string>, opts: RigOptions = {}): Rig {
  const stored = new Map<string, AccountState>()
  const loadFailures: Error[] = []
  const appendFailures: Error[] = []
  const counts: Rig['counts'] = []
  const slots = opts.slots ?? { count: 0, limit: 100 }
  const persistence: AccountPersistence = {
    load: async (did) => {
      const failure = loadFailures.shift()
      if (failure) throw failure
      return stored.get(did)
    },
    save: async (states) => {
      for (const s of states) stored.set(s.did, s)
    },
  }
  const accounts = new AccountCache(persistence, { maxEntries: 100 })
  const takedowns = new Takedowns()
  const appended: Rig['appended'] = []
  const drops: Drop[] = []
  const settled: Rig['settled'] = []
  const calls: string[] = []
  const repairs: string[] = []
  let seq = 0
  const identityOf = (did: string): Identity => ({
    did,
    pds: documents[did] ? `https://${documents[did]}` : null,
    handle: null,
    signingKey: opts.signingKeys?.[did] ?? null,
  })
  const ingest = new Ingest({
    identity: {
      resolve: async (did) => ({ identity: identityOf(did), stale: false }),
      peek: (did) => identityOf(did),
      purge: () => {},
    },
    accounts,
    takedowns,
    hosts: {
      ingestView: (id) => {
        const hostname = HOSTS.get(id)
        return hostname
          ? { id, hostname, banned: false, sync: { mode: null, effective: 'lenient', goodRun: 0 } }
          : undefined
      },
      commitAccepted: () => {},
      accountSlots: () => ({ ...slots }),
      adjustAccountCount: (hostId, delta, did) => {
        counts.push([hostId, delta, did])
        slots.count += delta
      },
      ...(opts.askSlot && { askSlot: opts.askSlot }),
      settled: (hostId, s, dropped) => settled.push({ hostId, seq: s, dropped }),
    },
    log: {
      append: (input: AppendInput): LogRecord => {
        const failure = appendFailures.shift()
        if (failure) throw failure
        seq++
        const frame = frameWithSeq(input.frame, seq)
        const decoded = decodeFrame(frame)
        assert.equal(decoded.op, 1)
        if (decoded.op === 1) {
          appended.push({ hostId: input.hostId, type: decoded.type, body: decoded.body })
        }
        return { ...input, seq, timeMs: 0, type: '', frame }
      },
    },
    verify: opts.verify ?? (() => Promise.reject(new Error('no commits in these tests'))),
    drops: { record: (d) => drops.push(d) },
    now: () => Date.parse(T),
    syncDefault: 'auto',
    oldestThrottled: async (_hostId, limit) => {
      calls.push('oldest')
      return [...stored.values()]
        .filter((s) => s.localStatus === 'throttled')
        .sort((a, b) => a.createdAt - b.createdAt)
        .slice(0, limit)
        .map((s) => s.did)
    },
    flushAccounts: async () => {
      calls.push('flush')
      await accounts.write(0)
    },
    identityRetry: { attempts: 1, delayMs: 0 },
    onDesynchronized: (did, hostId) => repairs.push(`${did}@${hostId}`),
    ...(opts.mirror && { mirror: opts.mirror }),
  })
  const known = async (did: string, hostId: number, localStatus = 'active' as const) => {
    // Created in the order the test names them: the first is the oldest.
    const createdAt = Date.parse(T) - 100_000 + 1000 * stored.size
    stored.set(did, {
      did,
      hostId,
      localStatus,
      upstreamStatus: 'active',
      rev: null,
      commitCid: null,
      dataCid: null,
      handle: null,
      createdAt,
      updatedAt: createdAt,
    })
  }
  return {
    ingest,
    accounts,
    takedowns,
    stored,
    appended,
    drops,
    settled,
    calls,
    repairs,
    known,
    loadFailures,
    appendFailures,
    counts,
  }
}
