// The reference atproto stack as a test peer: a PLC directory and PDSes from `@atproto/dev-env`
// running in this process, each PDS with its data and blob directories in one temp dir that
// `close()` removes; a recorder for a PDS's own `subscribeRepos` stream (what the PDS emitted,
// parsed with the relay's protocol code, in arrival order across every recorder sharing a clock);
// and the account actions the end-to-end tests drive (create, migrate) through `@atproto/api`.
// Two dev-env habits are worked around so a run leaves nothing behind: `TestPds.create` makes a
// random directory in os.tmpdir() even when given its own (it is made inside ours: TMPDIR points
// there while it runs), and dev-env's port picker keeps a lock directory in os.tmpdir() (we pick
// free loopback ports ourselves and pass them in).
// Deliberately not here: anything about the relay (test/support/relay-harness.ts) or assertions.
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AtpAgent } from '@atproto/api'
import { TestPds, TestPlc } from '@atproto/dev-env'
import { WebSocket } from 'ws'
import { decodeFrame } from '../../src/protocol/frame.ts'
import { parseMessage, type RepoEvent } from '../../src/protocol/messages.ts'

export interface DevPds {
  readonly pds: TestPds
  /** `localhost:PORT`: what the relay crawls and what DID documents name (`http://` + it). */
  readonly hostname: string
  /** The PDS's last sequenced event (0 when none), read from its database. */
  headSeq(): Promise<number>
  /** How many subscribeRepos streams the PDS is serving live now. */
  liveSubscribers(): number
  /** The last seq the PDS has handed to its live streams (it polls its database for them). */
  emittedSeq(): number
}

export interface DevNetwork extends AsyncDisposable {
  readonly plc: TestPlc
  readonly pdses: readonly DevPds[]
  /** Fetches a DID document from the PLC directory. */
  didDocument(did: string): Promise<DidDocument>
  close(): Promise<void>
}

export interface DidDocument {
  readonly id: string
  readonly alsoKnownAs?: readonly string[]
  readonly verificationMethod?: readonly { id: string; type: string; publicKeyMultibase: string }[]
  readonly service?: readonly { id: string; type: string; serviceEndpoint: string }[]
}

/** Starts a PLC directory and `pdsCount` PDSes using it; everything lives under one temp dir. */
export async function startDevNetwork(opts: { pdsCount: number }): Promise<DevNetwork> {
  const root = await mkdtemp(join(tmpdir(), 'relay-devenv-'))
  let plc: TestPlc | undefined
  const pdses: DevPds[] = []
  const close = async (): Promise<void> => {
    for (const p of pdses.splice(0)) await p.pds.close()
    await plc?.close()
    plc = undefined
    await rm(root, { recursive: true, force: true })
  }
  try {
    plc = await TestPlc.create({ port: await freePort() })
    for (let i = 0; i < opts.pdsCount; i++) {
      const dir = join(root, `pds-${i}`)
      await mkdir(join(dir, 'data'), { recursive: true })
      const config = {
        didPlcUrl: plc.url,
        port: await freePort(),
        dataDirectory: join(dir, 'data'),
        blobstoreDiskLocation: join(dir, 'blobs'),
      }
      const pds = await withTmpdir(dir, () => TestPds.create(config))
      pdses.push({
        pds,
        hostname: new URL(pds.url).host,
        headSeq: async () => (await pds.ctx.sequencer.curr()) ?? 0,
        liveSubscribers: () => pds.ctx.sequencer.listenerCount('events'),
        emittedSeq: () => pds.ctx.sequencer.lastSeen ?? 0,
      })
    }
  } catch (err) {
    await close()
    throw err
  }
  const plcUrl = plc.url
  return {
    plc,
    pdses,
    didDocument: async (did) => {
      const res = await fetch(`${plcUrl}/${encodeURIComponent(did)}`)
      if (!res.ok) throw new Error(`PLC answered ${res.status} for ${did}`)
      return (await res.json()) as DidDocument
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}

/** A TCP port free on loopback right now (the PDS and PLC want a port number, not port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Runs `fn` with os.tmpdir() answering `dir` (this process only; restored afterwards). */
async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR
  process.env.TMPDIR = dir
  try {
    return await fn()
  } finally {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
  }
}

/** The handle a DID document claims (its first `at://` alias), or null. */
export function claimedHandle(doc: DidDocument): string | null {
  const aka = doc.alsoKnownAs?.find((a) => a.startsWith('at://'))
  return aka ? aka.slice('at://'.length).toLowerCase() : null
}

/** The `#atproto` verification method of a DID document (the account's signing key). */
export function signingMethod(doc: DidDocument): { type: string; publicKeyMultibase: string } {
  const vm = doc.verificationMethod?.find(
    (m) => m.id === '#atproto' || m.id === `${doc.id}#atproto`,
  )
  if (!vm) throw new Error(`${doc.id} has no #atproto verification method`)
  return vm
}

/** One event as a PDS emitted it. `arrival` orders events across recorders sharing a clock. */
export interface EmittedEvent {
  readonly host: string
  readonly arrival: number
  readonly msg: RepoEvent
}

/** Shared arrival counter for several recorders. */
export interface ArrivalClock {
  n: number
}

/** Records everything a PDS emits on its own `subscribeRepos`, from cursor 0. */
export class PdsFirehose {
  readonly events: EmittedEvent[] = []
  readonly #ws: WebSocket
  readonly #host: string
  readonly #clock: ArrivalClock
  readonly #waiters = new Set<() => void>()
  #error: Error | null = null

  constructor(pds: DevPds, clock: ArrivalClock) {
    this.#host = pds.hostname
    this.#clock = clock
    this.#ws = new WebSocket(`ws://${pds.hostname}/xrpc/com.atproto.sync.subscribeRepos?cursor=0`)
    this.#ws.on('message', (data: Buffer) => {
      try {
        const frame = decodeFrame(new Uint8Array(data))
        if (frame.op !== 1) throw new Error(`${this.#host} sent an error frame: ${frame.error}`)
        const msg = parseMessage(frame)
        if (msg.type === '#info') return
        this.events.push({ host: this.#host, arrival: ++this.#clock.n, msg })
      } catch (err) {
        this.#error ??= err instanceof Error ? err : new Error(String(err))
      }
      for (const w of this.#waiters) w()
    })
    this.#ws.on('error', (err) => {
      this.#error ??= err
    })
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#ws.readyState === WebSocket.OPEN) return resolve()
      this.#ws.once('open', () => resolve())
      this.#ws.once('error', reject)
    })
  }

  /** The highest seq received so far (0 when none). */
  get lastSeq(): number {
    return this.events.at(-1)?.msg.seq ?? 0
  }

  /** Throws what went wrong decoding the PDS's stream, if anything did. */
  assertHealthy(): void {
    if (this.#error) throw this.#error
  }

  /** Waits until an event with `seq` or later has arrived, or fails after `timeoutMs`. */
  async reached(seq: number, timeoutMs = 10_000): Promise<void> {
    if (this.lastSeq >= seq) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`${this.#host}: timed out waiting for seq ${seq} (at ${this.lastSeq})`))
      }, timeoutMs)
      const check = () => {
        if (this.lastSeq < seq) return
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve()
      }
      this.#waiters.add(check)
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) return resolve()
      this.#ws.once('close', () => resolve())
      this.#ws.close()
    })
  }
}

export interface DevAccount {
  readonly did: `did:${string}:${string}`
  handle: string
  readonly password: string
  readonly email: string
  /** Logged in to the PDS the account currently lives on. */
  agent: AtpAgent
}

/** Creates an account (`name.test`) on a PDS and returns it logged in. */
export async function createDevAccount(pds: DevPds, name: string): Promise<DevAccount> {
  const agent = pds.pds.getAgent()
  const handle = `${name}.test`
  const email = `${name}@example.com`
  const password = `${name}-password`
  const res = await agent.createAccount({ handle, email, password })
  return { did: res.data.did as DevAccount['did'], handle, password, email, agent }
}

/**
 * Moves an account from one PDS to another the way a user's migration tool does: a service-auth
 * token from the old PDS to create the account (deactivated) on the new one with the same DID,
 * repo export and import, the PLC operation signed by the old PDS (its email token read from the
 * old PDS's database, as the reference PDS's own tests do) and submitted by the new one, then
 * activation on the new PDS and deactivation on the old. No blobs or preferences: the tests make
 * none. The account gets `newName.test` as its handle on the new PDS.
 */
export async function migrateDevAccount(
  account: DevAccount,
  from: DevPds,
  to: DevPds,
  newName: string,
  /** Called after each step that makes the PDSes emit events (tests settle the relay there). */
  afterStep: (
    step: 'plc-operation' | 'activated' | 'deactivated',
  ) => Promise<void> = async () => {},
): Promise<void> {
  const oldAgent = account.agent
  const newAgent = to.pds.getAgent()
  const serverDid = (await newAgent.com.atproto.server.describeServer()).data.did
  const auth = await oldAgent.com.atproto.server.getServiceAuth({
    aud: serverDid,
    lxm: 'com.atproto.server.createAccount',
  })
  const handle = `${newName}.test`
  await newAgent.com.atproto.server.createAccount(
    { did: account.did, handle, email: account.email, password: account.password },
    { headers: { authorization: `Bearer ${auth.data.token}` }, encoding: 'application/json' },
  )
  await newAgent.login({ identifier: handle, password: account.password })
  const repo = await oldAgent.com.atproto.sync.getRepo({ did: account.did })
  await newAgent.com.atproto.repo.importRepo(repo.data, { encoding: 'application/vnd.ipld.car' })
  const credentials = await newAgent.com.atproto.identity.getRecommendedDidCredentials()
  await oldAgent.com.atproto.identity.requestPlcOperationSignature()
  const row = await from.pds.ctx.accountManager.db.db
    .selectFrom('email_token')
    .select('token')
    .where('did', '=', account.did)
    .where('purpose', '=', 'plc_operation')
    .executeTakeFirst()
  if (!row) throw new Error(`no PLC operation token for ${account.did}`)
  const signed = await oldAgent.com.atproto.identity.signPlcOperation({
    token: row.token,
    ...credentials.data,
  })
  await newAgent.com.atproto.identity.submitPlcOperation({ operation: signed.data.operation })
  await afterStep('plc-operation')
  await newAgent.com.atproto.server.activateAccount()
  await afterStep('activated')
  await oldAgent.com.atproto.server.deactivateAccount({})
  await afterStep('deactivated')
  account.agent = newAgent
  account.handle = handle
}
