// What one cached account costs in memory: the V8 heap taken by N account states in the
// AccountCache and N identities in the identity cache (CachingIdentityResolver), measured after a
// full collection, with values shaped as the relay really holds them: states as read back from
// the account store (every string its own copy, as the database driver hands them out, except
// the two statuses, which are shared constants here) and
// identities parsed from JSON DID documents by parseDidDocument. Also prints how long filling
// takes and what the account cache costs once full and evicting (the bound holds). Each part
// runs in a process of its own.
// ACCOUNT_MEMORY_BENCH_N sets N (default 1,000,000). Nothing here asserts.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { note } from '../../bench/harness.ts'
import { CachingIdentityResolver } from '../identity/cache.ts'
import { parseDidDocument } from '../identity/did-document.ts'
import type { IdentityResolver } from '../identity/resolver.ts'
import { AccountCache, type AccountPersistence } from './account-cache.ts'
import type { AccountState } from './account-state.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const N = Number(process.env.ACCOUNT_MEMORY_BENCH_N ?? 1_000_000)

/** A flat string of its own, as a driver or JSON.parse returns it (not a constant or a rope). */
const own = (s: string): string => Buffer.from(s, 'latin1').toString('latin1')

const b32 = 'abcdefghijklmnopqrstuvwxyz234567'
function base32(n: number, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) {
    out += b32[(n >>> ((i % 6) * 5)) & 31]
    n = (n * 1103515245 + 12345) >>> 0
  }
  return out
}

const digits32 = '0123456789abcdefghijklmnopqrstuv'
/** A did:plc whose 24 characters encode `i` (indexOf reads it back: the bench keeps no table). */
const didOf = (i: number) =>
  own(
    `did:plc:${[...i.toString(32).padStart(24, '0')].map((c) => b32[digits32.indexOf(c)]).join('')}`,
  )
const indexOf = (did: string) =>
  Number.parseInt([...did.slice(8)].map((c) => digits32[b32.indexOf(c)]).join(''), 32)
const cidOf = (i: number, salt: number) => `bafyrei${base32(i * 7 + salt, 52)}`

function stateOf(i: number): AccountState {
  return {
    did: didOf(i),
    hostId: 1 + (i % 3000),
    localStatus: 'active',
    upstreamStatus: 'active',
    rev: own(`3m${base32(i, 11)}`),
    commitCid: own(cidOf(i, 1)),
    dataCid: own(cidOf(i, 2)),
    handle: i % 4 === 0 ? null : own(`user${i}.bsky.social`),
    createdAt: 1_764_000_000_000 + i,
    updatedAt: 1_764_000_000_000 + i,
  }
}

function documentOf(i: number): string {
  const did = didOf(i)
  return JSON.stringify({
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    alsoKnownAs: [`at://user${i}.bsky.social`],
    verificationMethod: [
      {
        id: `${did}#atproto`,
        type: 'Multikey',
        controller: did,
        publicKeyMultibase: `zQ3sh${base32(i, 44)}`,
      },
    ],
    service: [
      {
        id: '#atproto_pds',
        type: 'AtprotoPersonalDataServer',
        serviceEndpoint: `https://pds${i % 3000}.example.com`,
      },
    ],
  })
}

function heapMB(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const rssMB = () => process.memoryUsage().rss / 2 ** 20

const noStore: AccountPersistence = {
  load: async () => undefined,
  save: async () => {},
}

async function accountsCost(): Promise<void> {
  const before = heapMB()
  const rssBefore = rssMB()
  const t0 = performance.now()
  // Through `get`, as ingest fills it: a miss reads the store, here answered at once.
  const seeded: AccountPersistence = { ...noStore, load: async (did) => stateOf(indexOf(did)) }
  const filling = new AccountCache(seeded, { maxEntries: N })
  for (let i = 0; i < N; i++) await filling.get(didOf(i))
  const fillMs = performance.now() - t0
  const after = heapMB()
  const perEntry = ((after - before) * 2 ** 20) / N
  note(
    `account states: ${N.toLocaleString('en-US')} cached in ${(fillMs / 1000).toFixed(1)} s; ` +
      `heap +${(after - before).toFixed(0)} MB = ${perEntry.toFixed(0)} bytes per account; ` +
      `RSS +${(rssMB() - rssBefore).toFixed(0)} MB`,
  )
  // Past the bound: another N/4 accounts evict as many; the heap does not grow.
  for (let i = N; i < N + N / 4; i++) await filling.get(didOf(i))
  const grew = heapMB() - after
  note(
    `account states: ${filling.size.toLocaleString('en-US')} kept after ${(N / 4).toLocaleString('en-US')} more ` +
      `(bound ${N.toLocaleString('en-US')}); heap ${grew >= 0 ? '+' : ''}${grew.toFixed(0)} MB`,
  )
}

async function identitiesCost(): Promise<void> {
  const upstream: IdentityResolver = {
    resolve: async (did) => {
      return parseDidDocument(did, JSON.parse(documentOf(indexOf(did))))
    },
  }
  const before = heapMB()
  const rssBefore = rssMB()
  const cache = new CachingIdentityResolver(upstream, { maxEntries: N, maxQueue: 0 })
  const t0 = performance.now()
  for (let i = 0; i < N; i++) await cache.resolve(didOf(i))
  const fillMs = performance.now() - t0
  const after = heapMB()
  const perEntry = ((after - before) * 2 ** 20) / N
  note(
    `identities: ${cache.gauges().entries.toLocaleString('en-US')} cached in ${(fillMs / 1000).toFixed(1)} s; ` +
      `heap +${(after - before).toFixed(0)} MB = ${perEntry.toFixed(0)} bytes per account; ` +
      `RSS +${(rssMB() - rssBefore).toFixed(0)} MB`,
  )
}

// Each part in a process of its own, so the garbage of one cannot blur the other's baseline.
const part = process.argv[2]
if (part === 'accounts') await accountsCost()
else if (part === 'identities') await identitiesCost()
else
  for (const p of ['accounts', 'identities']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), p], { stdio: 'inherit' })
    if (r.status !== 0) process.exitCode = 1 // an out-of-memory child is a failed bench
  }
