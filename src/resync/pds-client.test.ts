// The PDS client against a fake PDS on loopback serving real signed repos: each sync call parses
// a good answer, and every way a request fails ends as a PdsRequestError of the kind callers
// branch on (gone, rate-limited with the reset time, http, too-large, timeout, bad-answer,
// unreachable, unsafe-address). Only loopback is ever asked: `localhost` with insecure hosts
// allowed, and anything else that is not a public address is refused before connecting. The
// relay stopping (the caller's abort) is not a failure of the host.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { readCarSlice } from '../protocol/car.ts'
import {
  PdsClient,
  type PdsClientOptions,
  PdsRequestError,
  type PdsRequestKind,
} from './pds-client.ts'
import { FakeSyncPds, type PdsAccount, RATE_LIMIT_RESET_S, testDid } from './testing.ts'

const options: PdsClientOptions = {
  userAgent: 'resync-test',
  allowInsecure: true,
  maxRepoBytes: 1024 * 1024,
  repoTimeoutMs: 5_000,
}

const isKind =
  (kind: PdsRequestKind, extra: Partial<PdsRequestError> = {}) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof PdsRequestError, `expected a PdsRequestError, got ${String(err)}`)
    assert.equal(err.kind, kind, err.message)
    for (const [k, v] of Object.entries(extra)) assert.equal(err[k as keyof typeof err], v, k)
    return true
  }

describe('PdsClient', () => {
  let pds: FakeSyncPds
  let target: { hostname: string; ssl: boolean }
  let alice: PdsAccount
  const client = new PdsClient(options)

  before(async () => {
    pds = await FakeSyncPds.start({ pageSize: 2 })
    target = { hostname: pds.hostname, ssl: false }
    alice = await pds.addAccount({ records: 20 })
    await pds.addAccount()
    await pds.addAccount({ active: false, status: 'deactivated' })
  })
  after(() => pds.close())

  it('pages through listRepos with the PDS’s cursor until an empty page', async () => {
    const seen: string[] = []
    const cursors: (string | null)[] = []
    let cursor: string | null = null
    for (;;) {
      const page = await client.listRepos(target, cursor, 500)
      seen.push(...page.repos.map((r) => r.did))
      cursors.push(page.cursor)
      if (page.repos.length === 0) break
      cursor = page.cursor
    }
    assert.deepEqual(seen, [...pds.accounts.keys()].sort())
    // Two full pages, then the last one, then the empty page without a cursor.
    assert.equal(cursors.length, 3)
    assert.equal(cursors.at(-1), null)
    assert.deepEqual(await findListed(alice.did), {
      did: alice.did,
      head: alice.repo.commitCid,
      rev: alice.repo.rev,
      active: true,
    })
    const inactive = [...pds.accounts.values()].find((a) => !a.active)!
    assert.deepEqual(await findListed(inactive.did), {
      did: inactive.did,
      head: inactive.repo.commitCid,
      rev: inactive.repo.rev,
      active: false,
      status: 'deactivated',
    })
  })

  async function findListed(did: string) {
    let cursor: string | null = null
    for (;;) {
      const page = await client.listRepos(target, cursor, 500)
      const hit = page.repos.find((r) => r.did === did)
      if (hit || page.repos.length === 0) return hit
      cursor = page.cursor
    }
  }

  it('reads getLatestCommit, getRepo and getBlocks', async () => {
    assert.deepEqual(await client.getLatestCommit(target, alice.did), {
      cid: alice.repo.commitCid,
      rev: alice.repo.rev,
    })
    const repo = readCarSlice(await client.getRepo(target, alice.did))
    assert.deepEqual(repo.roots, [alice.repo.commitCid])
    const tree = await alice.repo.exportBlocks()
    assert.deepEqual([...repo.blocks.keys()].sort(), [...tree.keys(), alice.repo.commitCid!].sort())
    const car = await client.getBlocks(target, alice.did, [alice.repo.commitCid!])
    // The reference PDS's getBlocks CAR names no root; the block is there by its CID.
    assert.throws(() => readCarSlice(car), /no roots/)
    assert.ok(Buffer.from(car).includes(Buffer.from(repo.blocks.get(alice.repo.commitCid!)!)))
  })

  it('answers gone for an account the PDS does not serve (RepoNotFound, 404, deactivated)', async () => {
    await assert.rejects(
      client.getRepo(target, testDid()),
      isKind('gone', { status: 400, error: 'RepoNotFound' }),
    )
    pds.failNext('getLatestCommit', { status: 404, error: 'NotFound' })
    await assert.rejects(client.getLatestCommit(target, alice.did), isKind('gone', { status: 404 }))
    const inactive = [...pds.accounts.values()].find((a) => !a.active)!
    await assert.rejects(
      client.getRepo(target, inactive.did),
      isKind('gone', { error: 'RepoDeactivated' }),
    )
  })

  it('answers rate-limited for a 429, with when the PDS’s limit resets', async () => {
    pds.failNext('getRepo', 'rate-limited')
    await assert.rejects(
      client.getRepo(target, alice.did),
      isKind('rate-limited', {
        status: 429,
        error: 'RateLimitExceeded',
        retryAt: RATE_LIMIT_RESET_S * 1000,
      }),
    )
  })

  it('answers http for another error status', async () => {
    pds.failNext('listRepos', { status: 500 })
    await assert.rejects(
      client.listRepos(target, null, 10),
      isKind('http', { status: 500, error: 'InternalServerError' }),
    )
  })

  it('answers too-large for a repo over maxRepoBytes', async () => {
    const size = (await client.getRepo(target, alice.did)).length
    const small = new PdsClient({ ...options, maxRepoBytes: size - 1 })
    await assert.rejects(small.getRepo(target, alice.did), isKind('too-large'))
    // Exactly at the limit is fine.
    const exact = new PdsClient({ ...options, maxRepoBytes: size })
    assert.equal((await exact.getRepo(target, alice.did)).length, size)
  })

  it('answers timeout for a PDS that never answers, or whose body never ends', async () => {
    const quick = new PdsClient({ ...options, repoTimeoutMs: 150 })
    pds.failNext('getRepo', 'hang')
    await assert.rejects(quick.getRepo(target, alice.did), isKind('timeout'))
    pds.failNext('getRepo', 'endless')
    await assert.rejects(quick.getRepo(target, alice.did), isKind('timeout'))
  })

  it('answers bad-answer for a body that is not the method’s JSON', async () => {
    pds.failNext('listRepos', 'garbage')
    await assert.rejects(client.listRepos(target, null, 10), isKind('bad-answer'))
    pds.failNext('getLatestCommit', 'garbage')
    await assert.rejects(client.getLatestCommit(target, alice.did), isKind('bad-answer'))
  })

  it('answers unreachable for a closed port', async () => {
    const port = await closedPort()
    await assert.rejects(
      client.getRepo({ hostname: `localhost:${port}`, ssl: false }, alice.did),
      isKind('unreachable'),
    )
  })

  it('never connects to a non-public address unless it is localhost with insecure hosts allowed', async () => {
    const before = pds.requests.length
    const strict = new PdsClient({ ...options, allowInsecure: false })
    await assert.rejects(strict.getRepo(target, alice.did), isKind('unsafe-address'))
    const port = pds.hostname.split(':')[1]
    await assert.rejects(
      client.getRepo({ hostname: `127.0.0.1:${port}`, ssl: false }, alice.did),
      isKind('unsafe-address'),
    )
    assert.equal(pds.requests.length, before, 'the fake PDS was never asked')
  })

  it('throws the caller’s own abort as it is, not as a failure of the host', async () => {
    pds.hold('getRepo')
    const stop = new AbortController()
    const reason = new Error('the relay is stopping')
    const fetching = client.getRepo(target, alice.did, stop.signal)
    await pds.whenHeld('getRepo', 1)
    stop.abort(reason)
    await assert.rejects(fetching, (err) => err === reason)
    pds.release('getRepo')
    await assert.rejects(client.getRepo(target, alice.did, stop.signal), (err) => err === reason)
  })
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
