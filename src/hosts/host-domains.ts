// What a change of the banned or trusted domains means for every known host: a domain ban blocks
// the hosts under it (the ban's domain kept as the reason, as data), lifting it unblocks exactly
// the hosts that ban blocked unless another banned domain still covers one (that ban then holds
// it), and a change of the trusted domains gives each host the trust and default limits it
// implies. The settings hold the domain lists; the hosts part (hosts.ts) owns the hosts and
// carries out each block, unblock and limit here.
// Deliberately not here: single-host blocks, HTTP, SQL.
import type { BanReason } from './ban.ts'
import type { HostRows } from './host-rows.ts'
import { limitsOf } from './host-view.ts'
import { isDomainBanned, isTrustedDomain } from './hostname.ts'
import type { RelaySettings } from './settings.ts'
import type { UpstreamLinks } from './upstream-links.ts'

export interface HostDomainsDeps {
  readonly settings: RelaySettings
  readonly rows: Pick<HostRows, 'list' | 'ban' | 'get' | 'update'>
  readonly links: Pick<UpstreamLinks, 'setLimits'>
  /** Blocks a host for this reason (stored, disconnected), without a checkpoint. */
  block(id: number, ban: BanReason): Promise<void>
  /** Lifts a host's block: it reconnects from its cursor. */
  unblock(id: number): Promise<void>
  /** Checkpoints now (after changes a crash must not undo). */
  persist(): Promise<void>
}

export class HostDomains {
  readonly #d: HostDomainsDeps

  constructor(deps: HostDomainsDeps) {
    this.#d = deps
  }

  /**
   * At start: a host under a banned domain that is not banned (a stop between storing the
   * domain ban and blocking its hosts) is blocked now.
   */
  async blockUnderBannedDomains(): Promise<void> {
    const { rows, settings } = this.#d
    for (const row of rows.list()) {
      if (row.status === 'banned') continue
      const domain = settings.bannedDomains.find((d) => isDomainBanned(row.hostname, [d]))
      if (domain) await this.#d.block(row.id, { kind: 'domain', domain })
    }
  }

  /** Bans a domain and every name under it, blocking its known hosts; returns how many. */
  async ban(domain: string): Promise<number> {
    await this.#d.settings.banDomain(domain)
    let n = 0
    for (const row of this.#d.rows.list()) {
      if (row.status === 'banned' || !isDomainBanned(row.hostname, [domain])) continue
      await this.#d.block(row.id, { kind: 'domain', domain })
      n++
    }
    if (n > 0) await this.#d.persist()
    return n
  }

  /**
   * Lifts a domain ban and unblocks the hosts it blocked, unless another banned domain still
   * covers one (then that ban holds it); false when the domain was not banned.
   */
  async unban(domain: string): Promise<boolean> {
    const { rows, settings } = this.#d
    if (!(await settings.unbanDomain(domain))) return false
    for (const row of rows.list()) {
      const ban = rows.ban(row.id)
      if (ban?.kind !== 'domain' || ban.domain !== domain) continue
      const still = settings.bannedDomains.find((d) => isDomainBanned(row.hostname, [d]))
      if (still) await this.#d.block(row.id, { kind: 'domain', domain: still })
      else await this.#d.unblock(row.id)
    }
    return true
  }

  async trust(domain: string): Promise<void> {
    await this.#d.settings.addTrustedDomain(domain)
    await this.#retrust()
  }

  /** False when the domain was not trusted. */
  async distrust(domain: string): Promise<boolean> {
    if (!(await this.#d.settings.removeTrustedDomain(domain))) return false
    await this.#retrust()
    return true
  }

  /** Trusted domains changed: every host gets the trust (and default limits) they imply. */
  async #retrust(): Promise<void> {
    const { rows, settings, links } = this.#d
    const patterns = settings.trustedDomains.value
    for (const row of rows.list()) {
      const trusted = isTrustedDomain(row.hostname, patterns)
      if (trusted === row.trusted) continue
      await rows.update(row.id, { trusted })
      links.setLimits(row.id, limitsOf(rows.get(row.id)!))
    }
  }
}
