// Relay-wide host settings an operator changes at run time (docs/design.md §4 item 15): whether the
// public may request crawls, how many new hosts it may add per day, trusted domains and banned
// domains. Flags and environment give the starting values; once changed through the admin API a
// setting is stored (in the database's meta table) and wins from then on, across restarts. Each
// value reports where it came from.
// Deliberately not here: enforcing them (hosts.ts) or HTTP (admin/).

import { originOf, type RelayConfig, type SettingOriginKind } from '../config/config.ts'

/** Where a run-time setting's value came from: the configuration, or an operator (`admin`). */
export type SettingOrigin = SettingOriginKind | 'admin'

export interface Setting<T> {
  readonly value: T
  readonly source: SettingOrigin
}

/** What settings need from the database: a small key-value table. */
export interface SettingsStore {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
}

export interface SettingsDefaults {
  readonly publicCrawlEnabled: Setting<boolean>
  readonly newHostsPerDayLimit: Setting<number>
  readonly trustedDomains: Setting<readonly string[]>
}

const KEYS = {
  publicCrawl: 'settings.public_crawl_enabled',
  perDay: 'settings.new_hosts_per_day_limit',
  trusted: 'settings.trusted_domains',
  bans: 'settings.banned_domains',
} as const

export class RelaySettings {
  readonly #store: SettingsStore
  #publicCrawl: Setting<boolean>
  #perDay: Setting<number>
  #trusted: Setting<readonly string[]>
  #bans: readonly string[]

  private constructor(store: SettingsStore, d: SettingsDefaults, bans: readonly string[]) {
    this.#store = store
    this.#publicCrawl = d.publicCrawlEnabled
    this.#perDay = d.newHostsPerDayLimit
    this.#trusted = d.trustedDomains
    this.#bans = bans
  }

  /** Loads the settings, starting from the values (and origins) the configuration gives. */
  static fromConfig(
    store: SettingsStore,
    config: Pick<
      RelayConfig,
      'sources' | 'disableRequestCrawl' | 'newHostsPerDayLimit' | 'trustedDomains'
    >,
  ): Promise<RelaySettings> {
    return RelaySettings.load(store, {
      publicCrawlEnabled: {
        value: !config.disableRequestCrawl,
        source: originOf(config, 'disable-request-crawl'),
      },
      newHostsPerDayLimit: {
        value: config.newHostsPerDayLimit,
        source: originOf(config, 'new-hosts-per-day-limit'),
      },
      trustedDomains: { value: config.trustedDomains, source: originOf(config, 'trusted-domains') },
    })
  }

  static async load(store: SettingsStore, defaults: SettingsDefaults): Promise<RelaySettings> {
    const read = async <T>(key: string, check: (v: unknown) => v is T): Promise<T | undefined> => {
      const raw = await store.get(key)
      if (raw === undefined) return undefined
      try {
        const v: unknown = JSON.parse(raw)
        return check(v) ? v : undefined
      } catch {
        return undefined
      }
    }
    const isBool = (v: unknown): v is boolean => typeof v === 'boolean'
    const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
    const isList = (v: unknown): v is string[] =>
      Array.isArray(v) && v.every((x) => typeof x === 'string')
    const s = new RelaySettings(store, defaults, (await read(KEYS.bans, isList)) ?? [])
    const pc = await read(KEYS.publicCrawl, isBool)
    if (pc !== undefined) s.#publicCrawl = { value: pc, source: 'admin' }
    const pd = await read(KEYS.perDay, isCount)
    if (pd !== undefined) s.#perDay = { value: pd, source: 'admin' }
    const tr = await read(KEYS.trusted, isList)
    if (tr !== undefined) s.#trusted = { value: tr, source: 'admin' }
    return s
  }

  get publicCrawlEnabled(): Setting<boolean> {
    return this.#publicCrawl
  }

  get newHostsPerDayLimit(): Setting<number> {
    return this.#perDay
  }

  get trustedDomains(): Setting<readonly string[]> {
    return this.#trusted
  }

  get bannedDomains(): readonly string[] {
    return this.#bans
  }

  async setPublicCrawlEnabled(enabled: boolean): Promise<void> {
    await this.#store.set(KEYS.publicCrawl, JSON.stringify(enabled))
    this.#publicCrawl = { value: enabled, source: 'admin' }
  }

  async setNewHostsPerDayLimit(limit: number): Promise<void> {
    await this.#store.set(KEYS.perDay, JSON.stringify(limit))
    this.#perDay = { value: limit, source: 'admin' }
  }

  async addTrustedDomain(domain: string): Promise<void> {
    if (this.#trusted.value.includes(domain)) return
    await this.#setTrusted([...this.#trusted.value, domain])
  }

  async removeTrustedDomain(domain: string): Promise<boolean> {
    if (!this.#trusted.value.includes(domain)) return false
    await this.#setTrusted(this.#trusted.value.filter((d) => d !== domain))
    return true
  }

  async banDomain(domain: string): Promise<void> {
    if (this.#bans.includes(domain)) return
    const next = [...this.#bans, domain].sort()
    await this.#store.set(KEYS.bans, JSON.stringify(next))
    this.#bans = next
  }

  async unbanDomain(domain: string): Promise<boolean> {
    if (!this.#bans.includes(domain)) return false
    const next = this.#bans.filter((d) => d !== domain)
    await this.#store.set(KEYS.bans, JSON.stringify(next))
    this.#bans = next
    return true
  }

  async #setTrusted(list: readonly string[]): Promise<void> {
    await this.#store.set(KEYS.trusted, JSON.stringify(list))
    this.#trusted = { value: list, source: 'admin' }
  }
}
