// Test support for resync/: a fake PDS on a loopback port serving the sync API a resync or repair
// reads (`listRepos` paged, `getRepo`, `getLatestCommit`, `getBlocks`) from real signed test repos
// (test/support/test-repo.ts), each account published in the mock PLC directory with its key and
// this PDS; and what a test of one-account sync needs around it (identity through the real
// resolver, an Ingest over a recording log). The PDS answers like the reference PDS (an unknown
// or deactivated repo is a 400 with the Lexicon error, getBlocks' CAR names no root, the last
// page of listRepos still carries a cursor) and can be scripted: accounts changed or broken, the
// next answers failing (an XRPC error, 429 with rate-limit headers, a hang, a body that never
// ends, garbage), answers held to observe concurrency, every request counted per route.
// Never used by production code.
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decode } from '@atcute/cbor'
import { generateKeypair } from '../../test/support/keypair.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { AccountCache } from '../accounts/account-cache.ts'
import type { AccountState } from '../accounts/account-state.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import { mapPersistence } from '../accounts/testing.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import { DidNotFoundError } from '../identity/errors.ts'
import { DidResolver } from '../identity/resolver.ts'
import type { MockPlc } from '../identity/testing/mock-plc.ts'
import { Ingest } from '../ingest/ingest.ts'
import type { IngestMirror } from '../ingest/types.ts'
import { encodeCarSlice, readCarSlice } from '../protocol/car.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { frameWithSeq } from '../protocol/output.ts'

export const SYNC_ROUTES = ['listRepos', 'getRepo', 'getLatestCommit', 'getBlocks'] as const
export type SyncRoute = (typeof SYNC_ROUTES)[number]

/** How a scripted answer fails. */
export type PdsFailure =
  | { readonly status: number; readonly error?: string }
  | 'rate-limited' // 429 RateLimitExceeded with the reference PDS's ratelimit-* headers
  | 'hang' // never answers
  | 'endless' // a 200 whose body never ends
  | 'garbage' // a 200 whose body is not what the method returns

export interface PdsAccount {
  readonly did: string
  readonly repo: TestRepo
  active: boolean
  status?: string
  /** A tree block getRepo leaves out (a broken PDS or disk). */
  missing?: string
}

/** When a rate-limited answer says the limit resets (seconds since the epoch). */
export const RATE_LIMIT_RESET_S = 4_000_000_000

let nextDid = 0
/** A fresh valid did:plc (24 base32 letters). */
export function testDid(): string {
  let n = nextDid++
  let s = ''
  do {
    s = String.fromCharCode(97 + (n % 26)) + s
    n = Math.floor(n / 26)
  } while (n > 0)
  return `did:plc:resync${s.padStart(18, 'a')}`
}

const post = (text: string) => ({
  $type: 'app.bsky.feed.post',
  text,
  createdAt: '2026-01-01T00:00:00.000Z',
})

/** Writes creating `n` posts named `prefix0000`… */
export const creates = (n: number, prefix = 'p'): Write[] =>
  Array.from({ length: n }, (_, i) => ({
    action: 'create' as const,
    path: `app.bsky.feed.post/${prefix}${String(i).padStart(4, '0')}`,
    record: post(`${prefix} ${i}`),
  }))

export class FakeSyncPds {
  readonly #server: Server
  readonly #plc: MockPlc | undefined
  readonly #pageSize: number
  readonly accounts = new Map<string, PdsAccount>()
  /** Every request, in arrival order. */
  readonly requests: { route: SyncRoute; did?: string; cursor?: string }[] = []
  readonly #failures = new Map<SyncRoute, PdsFailure[]>()
  readonly #holding = new Set<SyncRoute>()
  readonly #held = new Map<SyncRoute, (() => void)[]>()
  readonly #waiters: { route: SyncRoute; n: number; resolve: () => void }[] = []
  readonly #inFlight = new Map<SyncRoute, number>()
  readonly #maxInFlight = new Map<SyncRoute, number>()
  readonly #hooks = new Map<SyncRoute, (() => Promise<void>)[]>()

  private constructor(server: Server, plc: MockPlc | undefined, pageSize: number) {
    this.#server = server
    this.#plc = plc
    this.#pageSize = pageSize
  }

  /** `plc`: where accounts are published; `pageSize`: most repos per listRepos page. */
  static async start(opts: { plc?: MockPlc; pageSize?: number } = {}): Promise<FakeSyncPds> {
    const server = createServer()
    const pds = new FakeSyncPds(server, opts.plc, opts.pageSize ?? 1000)
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const route = url.pathname.replace('/xrpc/com.atproto.sync.', '') as SyncRoute
      if (!SYNC_ROUTES.includes(route)) return void res.writeHead(404).end()
      void pds.#handle(route, url.searchParams, res)
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    return pds
  }

  /** `localhost:PORT`, as the relay names the host. */
  get hostname(): string {
    return `localhost:${(this.#server.address() as AddressInfo).port}`
  }

  get url(): string {
    return `http://${this.hostname}`
  }

  count(route: SyncRoute): number {
    return this.requests.filter((r) => r.route === route).length
  }

  /** The most requests of a route answered at once so far. */
  maxInFlight(route: SyncRoute): number {
    return this.#maxInFlight.get(route) ?? 0
  }

  /** A new account with `records` posts, published in the PLC directory (with its key). */
  async addAccount(opts: { records?: number; active?: boolean; status?: string } = {}) {
    const did = testDid()
    const repo = new TestRepo(did, generateKeypair('k256'))
    await repo.commit(creates(opts.records ?? 5))
    const account: PdsAccount = { did, repo, active: opts.active ?? true }
    if (opts.status) account.status = opts.status
    this.accounts.set(did, account)
    this.#plc?.setDocument(did, didDocument(did, this.url, repo.keypair.publicKeyMultibase))
    return account
  }

  /** A new commit on the account's repo (by default, one more post). */
  async commit(did: string, writes?: Write[]): Promise<void> {
    const repo = this.#account(did).repo
    await repo.commit(writes ?? creates(1, `c${repo.seq}x`))
  }

  /** The account's head re-signed with a key its DID document does not name. */
  breakSignature(did: string): void {
    const repo = this.#account(did).repo
    repo.keypair = generateKeypair('k256')
    repo.sync()
  }

  /** getRepo leaves out one MST node below the root, or one record. */
  async dropBlock(did: string, kind: 'node' | 'record'): Promise<void> {
    const a = this.#account(did)
    for (const [cid, bytes] of await a.repo.exportBlocks()) {
      if (cid === a.repo.root) continue
      const value = decode(bytes) as Record<string, unknown>
      const isNode = 'e' in value && 'l' in value
      if (isNode === (kind === 'node')) {
        a.missing = cid
        return
      }
    }
    throw new Error(`test repo has no ${kind} below its root`)
  }

  /** The next `times` answers of `route` fail this way. */
  failNext(route: SyncRoute, failure: PdsFailure, times = 1): void {
    const list = this.#failures.get(route) ?? []
    for (let i = 0; i < times; i++) list.push(failure)
    this.#failures.set(route, list)
  }

  /** Runs `fn` once, when the next answer of `route` is made, before it is sent. */
  afterNext(route: SyncRoute, fn: () => Promise<void>): void {
    this.#hooks.set(route, [...(this.#hooks.get(route) ?? []), fn])
  }

  /** Holds every answer of `route` until release(route). */
  hold(route: SyncRoute): void {
    this.#holding.add(route)
  }

  /** Sends the held answers of `route` and stops holding it. */
  release(route: SyncRoute): void {
    this.#holding.delete(route)
    for (const go of this.#held.get(route)?.splice(0) ?? []) go()
  }

  /** Resolves once `n` answers of `route` are held. */
  whenHeld(route: SyncRoute, n: number): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push({ route, n, resolve })
      this.#wake()
    })
  }

  async close(): Promise<void> {
    for (const r of SYNC_ROUTES) this.release(r)
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #account(did: string): PdsAccount {
    const a = this.accounts.get(did)
    if (!a) throw new Error(`no account ${did} on the fake PDS`)
    return a
  }

  #wake(): void {
    for (const w of [...this.#waiters]) {
      if ((this.#held.get(w.route)?.length ?? 0) < w.n) continue
      this.#waiters.splice(this.#waiters.indexOf(w), 1)
      w.resolve()
    }
  }

  async #handle(route: SyncRoute, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const did = q.get('did') ?? undefined
    const cursor = q.get('cursor') ?? undefined
    this.requests.push({ route, ...(did ? { did } : {}), ...(cursor ? { cursor } : {}) })
    const n = (this.#inFlight.get(route) ?? 0) + 1
    this.#inFlight.set(route, n)
    this.#maxInFlight.set(route, Math.max(n, this.maxInFlight(route)))
    res.on('close', () => this.#inFlight.set(route, (this.#inFlight.get(route) ?? 1) - 1))
    if (this.#holding.has(route)) {
      await new Promise<void>((resolve) => {
        this.#held.set(route, [...(this.#held.get(route) ?? []), resolve])
        this.#wake()
      })
    }
    const failure = this.#failures.get(route)?.shift()
    if (failure !== undefined) return fail(res, failure)
    const reply = await this.#answer(route, q)
    await this.#hooks.get(route)?.shift()?.()
    reply(res)
  }

  async #answer(route: SyncRoute, q: URLSearchParams): Promise<(res: ServerResponse) => void> {
    if (route === 'listRepos') {
      const limit = Math.min(Number(q.get('limit') ?? 500), this.#pageSize)
      const after = q.get('cursor')?.replace(/^after:/, '') ?? ''
      const page = [...this.accounts.values()]
        .sort((a, b) => (a.did < b.did ? -1 : 1))
        .filter((a) => a.did > after)
        .slice(0, limit)
      const repos = page.map((a) => ({
        did: a.did,
        head: a.repo.commitCid,
        rev: a.repo.rev,
        active: a.active,
        ...(a.status ? { status: a.status } : {}),
      }))
      const last = page.at(-1)
      return json(200, { repos, ...(last ? { cursor: `after:${last.did}` } : {}) })
    }
    const a = this.accounts.get(q.get('did') ?? '')
    if (!a) return json(400, { error: 'RepoNotFound', message: 'Could not find repo' })
    if (!a.active) {
      const error = a.status === 'takendown' ? 'RepoTakendown' : 'RepoDeactivated'
      return json(400, { error, message: 'Repo is not available' })
    }
    if (route === 'getLatestCommit') {
      return json(200, { cid: a.repo.commitCid, rev: a.repo.rev })
    }
    const { roots, blocks } = readCarSlice(await a.repo.exportCar())
    if (route === 'getRepo') {
      return car(
        encodeCarSlice(
          roots,
          [...blocks].filter(([cid]) => cid !== a.missing),
        ),
      )
    }
    const wanted = q.getAll('cids')
    const lacking = wanted.filter((c) => !blocks.has(c))
    if (lacking.length > 0) {
      return json(400, { error: 'BlockNotFound', message: `Could not find: ${lacking}` })
    }
    // Like the reference PDS: a CAR of the blocks whose header names no root.
    return car(
      encodeCarSlice(
        [],
        wanted.map((c) => [c, blocks.get(c)!]),
      ),
    )
  }
}

function fail(res: ServerResponse, failure: PdsFailure): void {
  if (typeof failure === 'object') {
    json(failure.status, { error: failure.error ?? 'InternalServerError' })(res)
    return
  }
  switch (failure) {
    case 'rate-limited':
      res.writeHead(429, {
        'content-type': 'application/json',
        'ratelimit-limit': '3000',
        'ratelimit-remaining': '0',
        'ratelimit-reset': String(RATE_LIMIT_RESET_S),
        'ratelimit-policy': '3000;w=300',
      })
      return void res.end(JSON.stringify({ error: 'RateLimitExceeded', message: 'slow down' }))
    case 'hang':
      return // never answered; close() ends the connection
    case 'endless':
      res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' })
      return void res.write(new Uint8Array(10))
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end('{"repos": [ this is not json')
  }
}

const json = (status: number, body: unknown) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

const car = (bytes: Uint8Array) => (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' })
  res.end(bytes)
}

/** A DID document naming the account's key and PDS, as the PLC directory serves it. */
export function didDocument(did: string, pdsUrl: string, publicKeyMultibase?: string): object {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    alsoKnownAs: [],
    verificationMethod: publicKeyMultibase
      ? [{ id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase }]
      : [],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pdsUrl }],
  }
}

/** Identity resolved afresh through the mock PLC, null for a DID it does not know. */
export function resolveVia(plc: MockPlc) {
  const resolver = new DidResolver({ plcUrl: plc.url, userAgent: 'resync-test', timeoutMs: 5000 })
  return (did: string) =>
    resolver.resolve(did).catch((err: unknown) => {
      if (err instanceof DidNotFoundError) return null
      throw err
    })
}

export interface IngestRig {
  readonly ingest: Ingest
  readonly accounts: AccountCache
  /** The relay's own events appended, decoded. */
  readonly appended: { type: string; did: string; body: Record<string, unknown> }[]
  /** Accounts the hosts part counts per host (slots). */
  readonly slots: Map<number, number>
}

/** An Ingest for resynchronize over a log that records what it appends (and a mirror, if any). */
export function ingestRig(mirror?: IngestMirror, now = () => Date.now()): IngestRig {
  const stored = new Map<string, AccountState>()
  const accounts = new AccountCache(mapPersistence(stored), { maxEntries: 10_000 })
  const appended: IngestRig['appended'] = []
  const slots = new Map<number, number>()
  let seq = 0
  const ingest = new Ingest({
    identity: {
      resolve: () => Promise.reject(new Error('resynchronize resolves nothing')),
      peek: () => undefined,
      purge: () => {},
    },
    accounts,
    takedowns: new Takedowns(),
    hosts: {
      ingestView: () => undefined,
      commitAccepted: () => {},
      accountSlots: (id) => ({ count: slots.get(id) ?? 0, limit: 1000 }),
      adjustAccountCount: (id, d) => slots.set(id, (slots.get(id) ?? 0) + d),
      settled: () => {},
    },
    log: {
      append: (input: AppendInput): LogRecord => {
        const frame = frameWithSeq(input.frame, ++seq)
        const decoded = decodeFrame(frame)
        if (decoded.op === 1) {
          appended.push({ type: decoded.type, did: input.did ?? '', body: decoded.body })
        }
        return { ...input, seq, timeMs: 0, type: '', frame }
      },
    },
    verify: () => Promise.reject(new Error('no events in these tests')),
    drops: { record: () => {} },
    now,
    syncDefault: 'auto',
    oldestThrottled: async () => [],
    flushAccounts: async () => {},
    ...(mirror ? { mirror } : {}),
  })
  return { ingest, accounts, appended, slots }
}
