// The PDS endpoints identities name, known once each. A few thousand endpoints serve every
// account, while the identity cache keeps up to a million identities and ingest asks for an
// endpoint's host on every event (host authority). So one table holds each endpoint seen: the
// one string identities share (instead of a ~50-byte copy per identity) and its `host[:port]`,
// parsed from the URL once instead of per event. Bounded: forgotten whole at the limit (hostile
// documents can name endless endpoints; the next ones are shared again from then on).
// Deliberately not here: what makes an endpoint valid (did-document.ts normalises it first).

const LIMIT = 10_000

interface KnownEndpoint {
  readonly endpoint: string
  /** Lowercased `host[:port]`; null when the string is not a URL. */
  readonly host: string | null
}

const known = new Map<string, KnownEndpoint>()

function knownEndpoint(endpoint: string): KnownEndpoint {
  let k = known.get(endpoint)
  if (k === undefined) {
    let host: string | null
    try {
      host = new URL(endpoint).host.toLowerCase()
    } catch {
      host = null
    }
    if (known.size >= LIMIT) known.clear()
    k = { endpoint, host }
    known.set(endpoint, k)
  }
  return k
}

/** The one string kept for this endpoint (equal to it). */
export function sharedEndpoint(endpoint: string): string {
  return knownEndpoint(endpoint).endpoint
}

/** The `host[:port]` a PDS endpoint URL names, lowercased; null when it is not a URL. */
export function endpointHost(pds: string | null): string | null {
  return pds ? knownEndpoint(pds).host : null
}
