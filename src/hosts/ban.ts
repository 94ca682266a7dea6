// Why a host is banned, as data: an operator blocked it (through `block` or `killUpstream` with
// `block=true`), or it is under a banned domain. The reason decides what lifts the ban (unbanning a
// domain releases exactly the hosts it banned), and it is stored as data (host-rows.ts keeps the
// reasons as JSON in the meta table), never recovered from the prose shown to operators
// (`describeBan`).
// A vocabulary file: it imports nothing, so every layer may name it.

export const BAN_KINDS = ['operator', 'kill-upstream', 'domain'] as const
export type BanKind = (typeof BAN_KINDS)[number]

export type BanReason =
  | { readonly kind: 'operator' }
  | { readonly kind: 'kill-upstream' }
  | { readonly kind: 'domain'; readonly domain: string }

/** What operators read as the host's status reason. */
export function describeBan(ban: BanReason): string {
  switch (ban.kind) {
    case 'operator':
      return 'blocked by an operator'
    case 'kill-upstream':
      return 'blocked by an operator (killUpstream)'
    case 'domain':
      return `domain ${ban.domain} is banned`
  }
}

/** The ban a stored kind and domain describe (null: not banned, or not a known kind). */
export function banFrom(kind: string | null, domain: string | null): BanReason | null {
  if (kind === 'operator' || kind === 'kill-upstream') return { kind }
  if (kind === 'domain' && domain) return { kind, domain }
  return null
}
