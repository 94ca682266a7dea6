// What a stored identity costs the thread that resolves it (identity/stored-identities.ts), on
// SQLite: N identities written at once, then resolved cold by a new cache over the table (what
// a restart pays per account instead of a DID document; the directory is a stand-in that fails
// the bench if it is ever asked), and N DIDs the table does not hold resolved with and without
// the table (what every new DID pays for the read that misses; the directory answers at once).
// CPU of the process per identity, two rounds each, the first after a warm-up pass.
// STORED_IDENTITY_BENCH_N sets N (default 20000). Nothing here asserts.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { note } from '../../bench/harness.ts'
import { openDatabase } from '../db/database.ts'
import { CachingIdentityResolver } from './cache.ts'
import type { Identity } from './did-document.ts'
import type { IdentityResolver } from './resolver.ts'
import { StoredIdentities } from './stored-identities.ts'

const N = Number(process.env.STORED_IDENTITY_BENCH_N ?? 20_000)
const dir = await mkdtemp(join(tmpdir(), 'relay-identity-bench-'))
const db = await openDatabase({ kind: 'sqlite', path: join(dir, 'relay.sqlite') })

const didOf = (prefix: string, i: number) => `did:plc:${prefix}${i.toString(36).padStart(20, 'a')}`
const identityOf = (did: string): Identity => ({
  did,
  pds: 'https://pds.example.com',
  handle: `${did.slice(-8)}.bsky.social`,
  signingKey: {
    type: 'Multikey',
    publicKeyMultibase: 'zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme',
  },
})

const writer = new StoredIdentities(db.identities)
for (let i = 0; i < N; i++) writer.remember(identityOf(didOf('kept', i)), Date.now())
await writer.flush('at-once')

const never: IdentityResolver = {
  resolve: async (did) => {
    throw new Error(`the directory was asked for ${did}`)
  },
}
const instant: IdentityResolver = { resolve: async (did) => identityOf(did) }

/** CPU µs per identity resolving `dids` one after another through a new cache. */
async function perIdentity(
  upstream: IdentityResolver,
  dids: readonly string[],
  stored: boolean,
): Promise<number> {
  const cache = new CachingIdentityResolver(upstream, {
    maxEntries: dids.length,
    ...(stored && { stored: new StoredIdentities(db.identities) }),
  })
  const cpu = process.cpuUsage()
  for (const did of dids) await cache.resolve(did)
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / dids.length
}

const kept = Array.from({ length: N }, (_, i) => didOf('kept', i))
let round = 0
const fresh = () => Array.from({ length: N }, (_, i) => didOf(`new${round}`, i))
note(`${N} identities stored; CPU µs per identity, resolved one after another`)
for (round = 0; round < 3; round++) {
  const stored = await perIdentity(never, kept, true)
  const missWith = await perIdentity(instant, fresh(), true)
  round += 10
  const missWithout = await perIdentity(instant, fresh(), false)
  round -= 10
  if (round === 0) continue // warm-up
  note(
    `round ${round}: from the table ${stored.toFixed(1)}; a DID the table lacks ${missWith.toFixed(1)} with the table, ${missWithout.toFixed(1)} without it`,
  )
}
await db.close()
await rm(dir, { recursive: true, force: true })
