// The load generator's workload: which account does what at each step, and the frames for it,
// generated once and cached on disk so that a run costs nothing but the sends.
//
// A workload is fixed by its parameters (hosts, accounts, events, seed). Event `i` belongs to an
// account (uniformly drawn), is a `#commit` (99.4%), an `#identity` (0.5%) or an `#account`
// (0.1%), and goes out on its account's host with that host's next seq. A commit's rev is the
// TID whose timestamp is `baseMicros + i`, so a consumer reads `i` back from any relay's output
// without a lookup table (frame-scan.ts). Accounts start with `records` records (not emitted) so
// that commits carry realistic MST proofs; 90% sign with k256 keys, 10% with p256.
//
// On disk (`data/loadgen/cache/<key>/`): `manifest.json` (parameters, accounts with their public
// keys, frame counts) and `events.bin`, every event in order as
// [kind u8][host u16 BE][length u32 BE][frame bytes]. With `--serve-repos`, also `repos.bin`:
// each account's starting repo as a getRepo CAR, in account order, as [length u32 BE][CAR],
// made on first use from the same seeds (a repo's starting commit is signed again, so its
// signature may differ from the one the events were made after; its tree is the same).

import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { shardOf } from '../../src/accounts/shard-of.ts'
import { seededRandom } from '../../test/support/seeded-random.ts'

export const WORKLOAD_VERSION = 2

export interface WorkloadParams {
  readonly hosts: number
  readonly accounts: number
  readonly events: number
  readonly seed: number
  /** Records each repo holds before the first emitted commit. */
  readonly records: number
}

export const KIND = { commit: 0, identity: 1, account: 2 } as const
export type EventKind = (typeof KIND)[keyof typeof KIND]

export interface WorkloadAccount {
  readonly did: string
  readonly host: number
  readonly curve: 'k256' | 'p256'
  readonly publicKeyMultibase: string
}

export interface Manifest {
  readonly version: number
  readonly params: WorkloadParams
  /** Rev of event i is the TID of `baseMicros + i`. */
  readonly baseMicros: number
  readonly accounts: readonly WorkloadAccount[]
  readonly commitBytes: number
  readonly generatedAt: string
  readonly generateSeconds: number
}

export interface Workload {
  readonly manifest: Manifest
  /** Every event's frame, in order. */
  readonly frames: readonly Uint8Array[]
  readonly kinds: Uint8Array
  readonly hostOf: Uint16Array
}

/** One step of the schedule: what a generation worker must produce. */
export interface PlannedEvent {
  readonly i: number
  readonly account: number
  readonly kind: EventKind
  /** The event's seq on its host. */
  readonly seq: number
}

/** A distinct did:plc for each account number (base-32 digits in the PLC alphabet). */
export function didOf(n: number): string {
  let id = ''
  for (let k = n; id.length < 24; k = Math.floor(k / 32))
    id = 'abcdefghijklmnopqrstuvwxyz234567'[k % 32] + id
  return `did:plc:${id}`
}

/** The schedule: every event's account, kind and host seq. */
export function plan(params: WorkloadParams): PlannedEvent[] {
  const random = seededRandom(params.seed)
  const hostSeq = new Array<number>(params.hosts).fill(0)
  const out: PlannedEvent[] = []
  for (let i = 0; i < params.events; i++) {
    const account = Math.floor(random() * params.accounts)
    const r = random()
    const kind = r < 0.005 ? KIND.identity : r < 0.006 ? KIND.account : KIND.commit
    const host = account % params.hosts
    hostSeq[host] = (hostSeq[host] ?? 0) + 1
    out.push({ i, account, kind, seq: hostSeq[host] })
  }
  return out
}

/** One account shard of the relay's `count` (`--only-shard`). */
export interface ShardSelection {
  readonly index: number
  readonly count: number
}

/**
 * Of the first `events` planned events, which belong to an account the relay's `count` shards
 * give to shard `index` (its own hash), and each event's seq on its host as planned (the seq its
 * frame carries, which a reconnecting relay's cursor counts in).
 */
export function shardEvents(
  params: WorkloadParams,
  events: number,
  shard: ShardSelection,
): { kept: Uint8Array; seqs: Uint32Array } {
  const schedule = plan({ ...params, events })
  const kept = new Uint8Array(events)
  const seqs = new Uint32Array(events)
  const owner = new Map<number, boolean>()
  for (let i = 0; i < events; i++) {
    const { account, seq } = schedule[i]!
    let mine = owner.get(account)
    if (mine === undefined) {
      mine = shardOf(didOf(account), shard.count) === shard.index
      owner.set(account, mine)
    }
    kept[i] = mine ? 1 : 0
    seqs[i] = seq
  }
  return { kept, seqs }
}

/** How many planned events hold `wanted` events of the shard's accounts (at most `limit`). */
export function eventsHolding(
  params: WorkloadParams,
  wanted: number,
  shard: ShardSelection,
  limit: number,
): number {
  const { kept } = shardEvents(params, limit, shard)
  let found = 0
  for (let i = 0; i < limit; i++) if (kept[i] && ++found >= wanted) return i + 1
  return limit
}

export function cacheKey(p: WorkloadParams): string {
  return `v${WORKLOAD_VERSION}-h${p.hosts}-a${p.accounts}-n${p.events}-r${p.records}-s${p.seed}`
}

/** Makes sure the workload for `params` is in the cache (generating it once); says where. */
export async function ensureWorkload(
  cacheDir: string,
  params: WorkloadParams,
  log: (line: string) => void,
): Promise<{ dir: string; manifest: Manifest }> {
  const dir = join(cacheDir, cacheKey(params))
  const cached = await readManifest(dir).catch(() => null)
  if (cached !== null) {
    log(`workload: cached in ${dir}`)
    return { dir, manifest: cached }
  }
  // The schedule of a longer workload with the same parameters starts with this one's, so its
  // first `events` events serve as well (readWorkload's `limit`).
  const longer = await findLonger(cacheDir, params)
  if (longer !== null) {
    log(`workload: the first ${params.events} events of ${longer.dir}`)
    return longer
  }
  log(`workload: generating ${params.events} events for ${params.accounts} accounts (once)…`)
  const started = performance.now()
  const generated = await generate(params, log)
  const manifest: Manifest = {
    ...generated.manifest,
    generateSeconds: (performance.now() - started) / 1000,
  }
  await writeWorkload(dir, { ...generated, manifest })
  log(`workload: generated in ${manifest.generateSeconds.toFixed(0)} s, cached in ${dir}`)
  return { dir, manifest }
}

async function findLonger(
  cacheDir: string,
  params: WorkloadParams,
): Promise<{ dir: string; manifest: Manifest } | null> {
  let best: { dir: string; manifest: Manifest } | null = null
  const names = await readdir(cacheDir).catch(() => [] as string[])
  for (const name of names) {
    const manifest = await readManifest(join(cacheDir, name)).catch(() => null)
    if (manifest === null) continue
    const p = manifest.params
    const same =
      p.hosts === params.hosts &&
      p.accounts === params.accounts &&
      p.records === params.records &&
      p.seed === params.seed
    if (!same || p.events < params.events) continue
    if (best === null || p.events < best.manifest.params.events)
      best = { dir: join(cacheDir, name), manifest }
  }
  return best
}

async function readManifest(dir: string): Promise<Manifest> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest
  if (manifest.version !== WORKLOAD_VERSION) throw new Error('old cache')
  return manifest
}

/** Reads a cached workload, frames included (only its first `limit` events, when given). */
export async function readWorkload(dir: string, limit?: number): Promise<Workload> {
  const manifest = await readManifest(dir)
  const bin = await readFile(join(dir, 'events.bin'))
  const n = Math.min(manifest.params.events, limit ?? Number.POSITIVE_INFINITY)
  const frames: Uint8Array[] = []
  const kinds = new Uint8Array(n)
  const hostOf = new Uint16Array(n)
  let o = 0
  for (let i = 0; i < n; i++) {
    kinds[i] = bin[o]!
    hostOf[i] = bin.readUInt16BE(o + 1)
    const len = bin.readUInt32BE(o + 3)
    frames.push(bin.subarray(o + 7, o + 7 + len))
    o += 7 + len
  }
  if (n === manifest.params.events && o !== bin.length)
    throw new Error('events.bin does not match its manifest')
  return { manifest, frames, kinds, hostOf }
}

async function writeWorkload(dir: string, w: Workload): Promise<void> {
  await mkdir(dir, { recursive: true })
  const parts: Uint8Array[] = []
  for (let i = 0; i < w.frames.length; i++) {
    const head = Buffer.alloc(7)
    head[0] = w.kinds[i]!
    head.writeUInt16BE(w.hostOf[i]!, 1)
    head.writeUInt32BE(w.frames[i]!.length, 3)
    parts.push(head, w.frames[i]!)
  }
  await writeFile(join(dir, 'events.bin.tmp'), parts)
  await rename(join(dir, 'events.bin.tmp'), join(dir, 'events.bin'))
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(w.manifest)}\n`)
}

/** What a generation worker is given (workerData) and sends back. */
export interface GenerateTask {
  readonly params: WorkloadParams
  readonly baseMicros: number
  readonly accounts: readonly number[]
  readonly events: readonly PlannedEvent[]
  /** Make only the accounts' starting repos (`repo` messages), no events. */
  readonly reposOnly?: boolean
}
export type GenerateMessage =
  | { readonly type: 'repo'; readonly index: number; readonly car: Uint8Array }
  | { readonly type: 'account'; readonly index: number; readonly account: WorkloadAccount }
  | {
      readonly type: 'frames'
      readonly items: readonly { i: number; kind: EventKind; frame: Uint8Array }[]
    }
  | { readonly type: 'done' }

/**
 * Runs one generation worker per thread, thread `t` on the accounts `a % threads === t`, handing
 * their messages to `onMessage`; resolves when every worker has said it is done.
 */
async function eachWorker(
  threads: number,
  taskOf: (mine: (account: number) => boolean) => GenerateTask,
  onMessage: (m: GenerateMessage) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const worker = new Worker(new URL('./generate-worker.ts', import.meta.url), {
        workerData: taskOf((a) => a % threads === t),
      })
      return new Promise<void>((resolve, reject) => {
        worker.on('error', reject)
        worker.on('message', (m: GenerateMessage) => {
          if (m.type !== 'done') return onMessage(m)
          void worker.terminate()
          resolve()
        })
      })
    }),
  )
}

async function generate(params: WorkloadParams, log: (line: string) => void): Promise<Workload> {
  const events = plan(params)
  const baseMicros = Date.now() * 1000
  const threads = Math.max(1, Math.min(availableParallelism(), params.accounts))
  const frames = new Array<Uint8Array>(params.events)
  const kinds = new Uint8Array(params.events)
  const hostOf = new Uint16Array(params.events)
  const accounts = new Array<WorkloadAccount>(params.accounts)
  let done = 0
  let lastLog = performance.now()
  await eachWorker(
    threads,
    (mine) => ({
      params,
      baseMicros,
      accounts: Array.from({ length: params.accounts }, (_, a) => a).filter(mine),
      events: events.filter((e) => mine(e.account)),
    }),
    (m) => {
      if (m.type === 'account') accounts[m.index] = m.account
      else if (m.type === 'frames') {
        for (const { i, kind, frame } of m.items) {
          frames[i] = frame
          kinds[i] = kind
          hostOf[i] = (events[i]?.account ?? 0) % params.hosts
        }
        done += m.items.length
        if (performance.now() - lastLog > 5000) {
          lastLog = performance.now()
          log(`workload: ${done} of ${params.events} events`)
        }
      }
    },
  )
  let commitBytes = 0
  let commits = 0
  for (let i = 0; i < params.events; i++) {
    if (kinds[i] !== KIND.commit) continue
    commits++
    commitBytes += frames[i]!.length
  }
  const manifest: Manifest = {
    version: WORKLOAD_VERSION,
    params,
    baseMicros,
    accounts,
    commitBytes: Math.round(commitBytes / Math.max(1, commits)),
    generatedAt: new Date().toISOString(),
    generateSeconds: 0,
  }
  return { manifest, frames, kinds, hostOf }
}

/**
 * Each account's starting repo as a getRepo CAR (`repos.bin`, made once from the workload's
 * seeds when missing): what the hosts serve so that a relay's mirror gets a base to apply the
 * cached commits to.
 */
export async function ensureRepos(
  dir: string,
  manifest: Manifest,
  log: (line: string) => void,
): Promise<void> {
  const path = join(dir, 'repos.bin')
  if ((await stat(path).catch(() => null)) !== null) return
  const params = manifest.params
  log(`workload: making the starting repos of ${params.accounts} accounts (once)…`)
  const started = performance.now()
  const threads = Math.max(1, Math.min(availableParallelism(), params.accounts))
  const cars = new Array<Uint8Array>(params.accounts)
  await eachWorker(
    threads,
    (mine) => ({
      params,
      baseMicros: manifest.baseMicros,
      accounts: Array.from({ length: params.accounts }, (_, a) => a).filter(mine),
      events: [],
      reposOnly: true,
    }),
    (m) => {
      if (m.type === 'repo') cars[m.index] = m.car
    },
  )
  const parts: Uint8Array[] = []
  for (const car of cars) {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(car.length)
    parts.push(head, car)
  }
  await writeFile(`${path}.tmp`, parts)
  await rename(`${path}.tmp`, path)
  log(`workload: starting repos made in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

/** The starting repos written by `ensureRepos`, by account number. */
export async function readRepos(dir: string, accounts: number): Promise<Uint8Array[]> {
  const bin = await readFile(join(dir, 'repos.bin'))
  const out: Uint8Array[] = []
  let o = 0
  while (o < bin.length) {
    const len = bin.readUInt32BE(o)
    out.push(bin.subarray(o + 4, o + 4 + len))
    o += 4 + len
  }
  if (out.length !== accounts) throw new Error('repos.bin does not match its manifest')
  return out
}
