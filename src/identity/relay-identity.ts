// The relay's identity resolver as every thread that resolves builds it (the main thread, and
// each account shard for its own accounts): PLC or did:web, cached, timed (metrics) and traced,
// did:web fetched only from public addresses unless insecure hosts are allowed, and backed by the
// identities stored in the database (stored-identities.ts) when given them.
import type { RelayConfig } from '../config/config.ts'
import { exemptFromAddressGuard, resolvePublicAddresses } from '../hosts/address.ts'
import { publicFetch } from '../hosts/public-fetch.ts'
import { lightFetch } from '../net/light-fetch.ts'
import type { RelayMetrics } from '../observability/metrics.ts'
import { type Tracer, tracedResolver } from '../observability/tracing.ts'
import { CachingIdentityResolver } from './cache.ts'
import type { Identity } from './did-document.ts'
import { DidResolver } from './resolver.ts'
import type { IdentityMemory } from './stored-identities.ts'

/** DID → identity: PLC or did:web, cached, timed (metrics) and traced. */
export function relayIdentity(
  config: RelayConfig,
  now: () => number,
  tracer: Tracer,
  metrics: Pick<RelayMetrics, 'timeIdentity'> | undefined,
  stored?: IdentityMemory,
): CachingIdentityResolver {
  const resolver = new DidResolver({
    plcUrl: config.plcUrl,
    userAgent: config.userAgent,
    // The directory's documents through undici's request: about half the CPU of the global
    // fetch per document (net/light-fetch.ts).
    fetch: lightFetch(),
    allowInsecureWeb: config.allowInsecureHosts,
    // did:web documents come from hosts a PDS names: public addresses only (SSRF), except
    // localhost in development (--allow-insecure-hosts).
    checkWebHost: async (hostname) => {
      if (exemptFromAddressGuard(hostname, config.allowInsecureHosts)) return
      await resolvePublicAddresses(hostname)
    },
    // ...and the fetch itself connects only to the addresses it checked (no rebinding).
    webFetch: publicFetch(config.allowInsecureHosts),
  })
  const timed: { resolve(did: string, signal?: AbortSignal): Promise<Identity> } = metrics
    ? metrics.timeIdentity(resolver)
    : resolver
  return new CachingIdentityResolver(tracedResolver(tracer, timed), {
    maxEntries: config.identityCacheSize,
    ttlMs: config.identityTtlMs,
    now,
    ...(stored && { stored }),
  })
}
