// Ingest's own cost per `#commit` on the main thread, with everything below it instant: the
// identity and account already cached, a verify that answers at once, a log that only numbers
// the record. What is left is the pipeline itself: the account's turn, host authority, status,
// the hand-off to verification and back, the append, the account's new state and the host's
// settle. Events of 200 accounts in waves of 64 (about what a tick holds under load); reports
// main-thread CPU per event. Compare runs of this file across a change, not with the load
// generator's figures (which include reading sockets, the real log and fan-out).
import { performance } from 'node:perf_hooks'
import { note } from '../../bench/harness.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { AccountCache } from '../accounts/account-cache.ts'
import type { AccountState } from '../accounts/account-state.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import { mapPersistence } from '../accounts/testing.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { Identity } from '../identity/did-document.ts'
import type { RepoEnvelope } from '../protocol/envelope.ts'
import { Ingest } from './ingest.ts'
import type { VerifyOutcome } from './verify-task.ts'

const ACCOUNTS = 200
const WAVE = 64
const EVENTS = Number(process.env.INGEST_BENCH_EVENTS ?? 400_000)
const HOST = 'pds.example.test'

const key = generateKeypair('k256')
const dids = Array.from({ length: ACCOUNTS }, (_, i) => `did:plc:${String(i).padStart(24, 'a')}`)
const identities = new Map<string, Identity>(
  dids.map((did) => [
    did,
    {
      did,
      pds: `https://${HOST}`,
      handle: null,
      signingKey: { type: 'Multikey', publicKeyMultibase: key.publicKeyMultibase },
    },
  ]),
)
const stored = new Map<string, AccountState>()
const accounts = new AccountCache(mapPersistence(stored), { maxEntries: 10_000 })
const empty = new Uint8Array(0)
let rev = 0
const outcome = (): VerifyOutcome => ({
  ok: true,
  type: '#commit',
  rev: `3l${String(rev++).padStart(11, '2')}`,
  commitCid: 'bafyreicommit',
  dataCid: 'bafyreidata',
  inverted: true,
  warnings: [],
  prefix: empty,
  suffix: empty,
})
let seq = 0
let settled = 0
let wake: (() => void) | null = null
const ingest = new Ingest({
  identity: {
    resolve: async (did) => ({ identity: identities.get(did)!, stale: false }),
    peek: (did) => identities.get(did),
    purge: () => {},
  },
  accounts,
  takedowns: new Takedowns(),
  hosts: {
    ingestView: (id) => ({
      id,
      hostname: HOST,
      banned: false,
      sync: { mode: null, effective: 'strict', goodRun: 0 },
    }),
    commitAccepted: () => {},
    accountSlots: () => ({ count: 0, limit: 1_000_000 }),
    adjustAccountCount: () => {},
    settled: () => {
      settled++
      if (settled % WAVE === 0) wake?.()
    },
  },
  log: {
    append: (input: AppendInput): LogRecord => ({
      ...input,
      seq: ++seq,
      timeMs: 0,
      type: '#commit',
      frame: empty,
    }),
  },
  verify: async () => outcome(),
  drops: { record: () => {} },
  now: Date.now,
  syncDefault: 'auto',
  oldestThrottled: async () => [],
  flushAccounts: async () => {},
})

const frame = new Uint8Array(3200)
let upstreamSeq = 0
async function run(events: number): Promise<number> {
  const start = process.threadCpuUsage()
  for (let sent = 0; sent < events; sent += WAVE) {
    const done = new Promise<void>((r) => {
      wake = r
    })
    for (let i = 0; i < WAVE; i++) {
      const seqNo = ++upstreamSeq
      const msg: RepoEnvelope = {
        type: '#commit',
        seq: seqNo,
        did: dids[seqNo % ACCOUNTS]!,
        rev: 'x',
      }
      ingest.handle(1, msg, frame)
    }
    await done
    // Written now and then, as the checkpointer does, so the unwritten set stays small.
    if (sent % 4096 === 0) await accounts.write(seq)
  }
  const used = process.threadCpuUsage(start)
  return (used.user + used.system) / events
}

await run(50_000) // warm-up: the JIT, the caches
const t0 = performance.now()
const rounds: string[] = []
for (let r = 0; r < 3; r++) rounds.push((await run(EVENTS)).toFixed(2))
const { accepted, dropped, errors } = ingest.stats
note(
  `${EVENTS} #commit events × 3 of ${ACCOUNTS} accounts: ${rounds.join(' / ')} µs of the main ` +
    `thread's CPU per event (${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
    `${accepted} accepted, ${dropped} dropped, ${errors} errors)`,
)
