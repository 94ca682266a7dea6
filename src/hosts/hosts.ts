// The one owner of every host's life. For each known host it owns the status (the status
// machine is its only writer), the upstream connection and flow control (host-links.ts), the
// rate limiter, the retry schedule of offline hosts, and the cursor (derived in host-link.ts,
// stored by the checkpoint). Every operation on hosts is a method here that applies the whole
// rule: crawl requests, blocks, limits (raising an account limit releases throttled accounts),
// cursor resets, disconnects; domain bans and trusted domains, whose rules for every host are
// in host-domains.ts.
// It calls upward only through callbacks: events to ingest, drops to the drop counter, a cursor
// reset to the cursor book, "checkpoint now" after changes a crash must not undo, account
// releases after a raised limit, and a host's ingest view changed (a ban, a sync mode).
// Deliberately not here: HTTP (admin/ and api/ parse and answer), SQL (db/), what events mean.
import { type BanReason, describeBan } from './ban.ts'
import { admitCrawl, type CrawlRequest } from './crawl.ts'
import { InvalidHostnameError, UnknownHostError } from './errors.ts'
import { HostDomains } from './host-domains.ts'
import { RELAY_HOST_ID } from './host-id.ts'
import { HostLinks, resubscribeSpreadMs } from './host-links.ts'
import { type HostIngestView, HostRows } from './host-rows.ts'
import { HostStatusMachine } from './host-status.ts'
import { detailOf, type HostDetail, type HostView, limitsOf, viewOf } from './host-view.ts'
import { isTrustedDomain, normalizeHostname } from './hostname.ts'
import type { HostsOptions, LimitsChange } from './hosts-options.ts'
import { HostNotices } from './link-notices.ts'
import { HostRateLimiter } from './rate-limit.ts'
import type { RelaySettings } from './settings.ts'
import { afterCommit } from './sync-ratchet.ts'
import type { LinkConnectionView, UpstreamLinks } from './upstream-links.ts'

export type { HostsOptions, LimitsChange } from './hosts-options.ts'

export class Hosts {
  readonly settings: RelaySettings
  readonly #o: HostsOptions
  readonly #rows: HostRows
  readonly #status: HostStatusMachine
  readonly #notices: HostNotices
  readonly #links: UpstreamLinks
  readonly #domains: HostDomains
  #tick: NodeJS.Timeout | undefined

  constructor(o: HostsOptions) {
    this.#o = o
    this.settings = o.settings
    const onError = (err: unknown, context: string) => o.logger.error({ err, context }, 'hosts')
    this.#rows = new HostRows(o.store, o.meta, onError, o.onIngestViewChange)
    this.#status = new HostStatusMachine({
      ...o.statusOptions,
      now: o.now,
      onTransition: (id, from, to, reason) => this.#onTransition(id, from, to, reason),
    })
    this.#notices = new HostNotices({
      logger: o.logger,
      now: o.now,
      status: this.#status,
      futureCursorResets: o.futureCursorResets ?? { count: 3, afterMs: 3_600_000 },
      onCursorExpired: (id) =>
        void this.resetCursor(id).catch((err: unknown) => onError(err, 'cursor reset')),
      disconnect: (id) => void this.#links.disconnect(id),
    })
    this.#links =
      o.links?.(this.#notices) ??
      new HostLinks({
        userAgent: o.config.userAgent,
        timings: o.upstreamTimings,
        sockets: o.sockets,
        hostConcurrency: o.config.hostConcurrency,
        logger: o.logger,
        notices: this.#notices,
        limiter: new HostRateLimiter(),
        onEvent: o.onEvent,
        onDrop: o.onDrop,
        eventTypes: o.eventTypes,
      })
    this.#domains = new HostDomains({
      settings: o.settings,
      rows: this.#rows,
      links: this.#links,
      block: (id, ban) => this.#block(id, ban),
      unblock: (id) => this.unblock(id),
      persist: () => o.persist(),
    })
  }

  // ---- life ----

  /**
   * Reads every host and its state as stored. A host under a banned domain that is not banned
   * (a stop between storing the domain ban and blocking its hosts) is blocked now.
   */
  async load(): Promise<void> {
    await this.#rows.load()
    for (const row of this.#rows.list()) {
      this.#status.load(row.id, row.status, row.statusReason)
      this.#links.link({ id: row.id, hostname: row.hostname, ssl: row.ssl }, row.cursor)
      this.#links.setLimits(row.id, limitsOf(row))
    }
    await this.#domains.blockUnderBannedDomains()
  }

  /**
   * What start-up recovery found, given to the links before anything can dial them (the API
   * listens before `start`, and a crawl request may connect a known host in between): upstream
   * seqs already in the log, and where hosts without a stored cursor had got to.
   */
  recover(
    skipSeqs: ReadonlyMap<number, ReadonlySet<number>>,
    startCursors: ReadonlyMap<number, number> = new Map(),
  ): void {
    for (const [id, cursor] of startCursors) this.#links.recover(id, { cursor })
    for (const [id, skips] of skipSeqs) this.#links.recover(id, { skips })
  }

  /**
   * Connects every host not banned, spread over `spreadMs` (by default as resubscribeSpreadMs
   * says for their number), and starts the status clock. What start-up recovery found has been
   * given to `recover` before.
   */
  start(spreadMs?: number): void {
    const ids = this.#rows
      .list()
      .filter((h) => h.status !== 'banned')
      .map((h) => h.id)
    this.#links.connectAll(
      ids,
      spreadMs ?? resubscribeSpreadMs(ids.length),
      (id) => this.#rows.get(id)?.status !== 'banned',
    )
    this.#tick = setInterval(() => {
      this.#status.tick()
      for (const id of this.#status.takeDueRetries())
        if (this.#rows.get(id)?.status !== 'banned') this.#links.connect(id)
    }, this.#o.statusTickMs ?? 5000)
  }

  async stop(): Promise<void> {
    clearInterval(this.#tick)
    await this.#links.stop()
    await this.#rows.allWritten()
  }

  // ---- reads ----

  list(): HostView[] {
    return this.#rows
      .list()
      .sort((a, b) => a.id - b.id)
      .map((r) => this.#view(r.id)!)
  }

  get(id: number): HostView | undefined {
    return this.#view(id)
  }

  byHostname(hostname: string): HostView | undefined {
    const row = this.#rows.byHostname(hostname)
    return row && this.#view(row.id)
  }

  /** The known host a name given by an operator means; throws InvalidHostnameError or UnknownHostError. */
  find(name: string): HostView {
    const { hostname } = normalizeHostname(name, { allowInsecure: true })
    const host = this.byHostname(hostname)
    if (!host) throw new UnknownHostError(hostname)
    return host
  }

  /** Like `find`, for a name that may be anything (a public route's parameter). */
  lookup(name: string): HostView | undefined {
    try {
      return this.find(name)
    } catch (err) {
      if (err instanceof InvalidHostnameError || err instanceof UnknownHostError) return undefined
      throw err
    }
  }

  describe(id: number): HostDetail | undefined {
    const row = this.#rows.get(id)
    const conn = this.#links.connection(id)
    return (
      row &&
      detailOf(row, this.#view(id)!, {
        rates: this.#links.rates(id),
        syncDefault: this.#o.config.syncValidation,
        connection: conn
          ? { connected: conn.connected, framesReceived: conn.stats.framesReceived }
          : null,
        statusInfo: this.#status.describe(id),
      })
    )
  }

  cursor(id: number): number | null {
    return this.#links.cursor(id)
  }

  /** Every known host's cursor (the checkpoint stores them). */
  cursors(): ReadonlyMap<number, number | null> {
    return this.#links.cursors()
  }

  /** Brings the cursors up to date where a host thread keeps them (before a checkpoint). */
  async refreshCursors(): Promise<void> {
    await this.#links.refreshCursors?.()
  }

  /** The host's upstream connection, if one runs. */
  connection(id: number): LinkConnectionView | undefined {
    return this.#links.connection(id)
  }

  connectedHosts(): number[] {
    return this.#links.connectedHosts()
  }

  /** Upstream `#info` messages received, by name (metrics). */
  get infoCounts(): ReadonlyMap<string, number> {
    return this.#notices.infoCounts
  }

  /** Times a host was held back for its rate limits since start. */
  get ratePauses(): number {
    return this.#links.ratePauses
  }

  /** Cursors reset to the live head after repeated FutureCursor answers, since start. */
  get cursorResets(): number {
    return this.#notices.cursorResets
  }

  // ---- ingest, the log and the checkpoint ----

  ingestView(id: number): HostIngestView | undefined {
    return this.#rows.ingestView(id)
  }

  /**
   * One more commit of the host accepted (`proven`: it carried prevData and its ops inverted to
   * it): the sync ratchet steps from the host's state now. Ingest calls this after the commit's
   * verification, while other commits of the host were verified too, so the step is taken here,
   * by the state's owner, never from a copy read before.
   */
  commitAccepted(id: number, proven: boolean): void {
    const view = this.#rows.ingestView(id)
    if (!view) return
    const { syncValidation, syncRatchetCommits } = this.#o.config
    const next = afterCommit(view.sync, syncValidation, proven, syncRatchetCommits)
    if (next !== view.sync) this.#rows.setSyncState(id, next)
  }

  accountSlots(id: number): { count: number; limit: number } | undefined {
    const row = this.#rows.get(id)
    return row && { count: row.accountCount, limit: row.accountLimit }
  }

  adjustAccountCount(id: number, delta: number): void {
    this.#rows.adjustAccountCount(id, delta)
  }

  /**
   * One of the host's account slots for a new account, counted at once (account shards ask
   * here, so the limit holds across them); false when the host has used them all.
   */
  takeSlot(id: number): boolean {
    const row = this.#rows.get(id)
    if (!row) return true
    if (row.accountCount >= row.accountLimit) return false
    this.#rows.adjustAccountCount(id, 1)
    return true
  }

  /** Ingest settled one of the host's events (accepted into the log buffer, or dropped). */
  settled(hostId: number, seq: number, dropped: boolean): void {
    this.#links.settled(hostId, seq, dropped)
  }

  /** The log wrote these records: each is complete for its host's cursor. */
  flushed(records: readonly { hostId: number; upstreamSeq: number }[]): void {
    // Upstream seq 0: an event the relay made itself for a host's account (a resync's #sync).
    for (const r of records)
      if (r.hostId !== RELAY_HOST_ID && r.upstreamSeq > 0)
        this.#links.complete(r.hostId, r.upstreamSeq)
  }

  /** Account counts computed at start from the account table. */
  setAccountCounts(counts: ReadonlyMap<number, number>): void {
    this.#rows.setAccountCounts(counts)
  }

  /** With each checkpoint: the account counts and ratchet counters changed since the last. */
  persistBatched(): Promise<void> {
    return this.#rows.persistBatched()
  }

  // ---- operations ----

  /** A crawl request (public or an operator's); connects the host. Throws CrawlRefusedError. */
  async requestCrawl(req: CrawlRequest): Promise<{ host: HostView; created: boolean }> {
    const s = this.settings
    const { target, existing } = await admitCrawl(req, {
      allowInsecureHosts: this.#o.config.allowInsecureHosts,
      publicCrawlEnabled: s.publicCrawlEnabled.value,
      newHostsPerDayLimit: s.newHostsPerDayLimit.value,
      bannedDomains: s.bannedDomains,
      known: (name) => this.#rows.byHostname(name),
      createdInLastDay: () => this.#rows.countCreatedSince(this.#o.now() - 86_400_000),
      probe: this.#o.probe,
    })
    const row =
      existing ??
      (await this.#rows.create({
        hostname: target.hostname,
        ssl: target.ssl,
        accountLimit: this.#o.config.defaultAccountLimit,
        trusted: isTrustedDomain(target.hostname, s.trustedDomains.value),
        cursor: req.admin ? (req.cursor ?? null) : null,
      }))
    this.#links.link({ id: row.id, hostname: row.hostname, ssl: row.ssl }, row.cursor)
    this.#links.setLimits(row.id, limitsOf(row))
    this.#links.connect(row.id)
    return { host: this.#view(row.id)!, created: existing === undefined }
  }

  /** Blocks a host: banned (the reason kept as data), disconnected, its cursor kept. */
  async block(id: number, ban: BanReason): Promise<void> {
    await this.#block(id, ban)
    await this.#o.persist()
  }

  /** Lifts a block: the host starts afresh as active and reconnects from its cursor. */
  async unblock(id: number): Promise<void> {
    await this.#rows.setBan(id, null)
    this.#status.unbanned(id, 'unblocked by an operator')
    await this.#rows.written(id)
    this.#links.connect(id)
  }

  /** Disconnects a host, keeping its cursor; with `block`, also blocks it. */
  async killUpstream(id: number, opts: { block: boolean }): Promise<void> {
    if (opts.block) return this.block(id, { kind: 'kill-upstream' })
    await this.#links.disconnect(id)
    await this.#o.persist()
  }

  /** Bans a domain and every name under it, blocking its known hosts; returns how many. */
  banDomain(domain: string): Promise<number> {
    return this.#domains.ban(domain)
  }

  /**
   * Lifts a domain ban and unblocks the hosts it blocked, unless another banned domain still
   * covers one (then that ban holds it); false when the domain was not banned.
   */
  unbanDomain(domain: string): Promise<boolean> {
    return this.#domains.unban(domain)
  }

  /** Stores and applies new limits; a raised account limit releases throttled accounts. */
  async changeLimits(id: number, change: LimitsChange): Promise<void> {
    const before = this.#rows.get(id)
    if (!before) return
    await this.#rows.update(id, change)
    const after = this.#rows.get(id)!
    this.#links.setLimits(id, limitsOf(after))
    if (change.accountLimit !== undefined && change.accountLimit > before.accountLimit)
      await this.#o.onAccountLimitRaised(id, Math.max(0, after.accountLimit - after.accountCount))
  }

  addTrustedDomain(domain: string): Promise<void> {
    return this.#domains.trust(domain)
  }

  /** False when the domain was not trusted. */
  removeTrustedDomain(domain: string): Promise<boolean> {
    return this.#domains.distrust(domain)
  }

  /** Forgets the host's cursor: it is read from its live head (a blocked one stays disconnected). */
  async resetCursor(id: number): Promise<void> {
    const row = this.#rows.get(id)
    if (!row) return
    if (row.status === 'banned') this.#links.forgetCursor(id)
    else this.#links.connect(id, { fromLiveHead: true })
    this.#o.onCursorReset(id)
    this.#o.logger.warn({ host: row.hostname }, 'upstream cursor reset to the live head')
    await this.#o.persist()
  }

  // ---- internals ----

  async #block(id: number, ban: BanReason): Promise<void> {
    await this.#rows.setBan(id, ban)
    // Already banned: the new reason holds it now, and the text operators read says so.
    if (this.#rows.get(id)?.status === 'banned') this.#status.banReasonChanged(id, describeBan(ban))
    else this.#status.banned(id, describeBan(ban))
    // Disconnected even when the status write fails: the ban holds in memory at once, and the
    // caller (an operator) is told the write failed so it can be tried again.
    await this.#links.disconnect(id)
    await this.#rows.written(id)
  }

  /** The status machine moved a host: log, store, and stop an offline host's connection. */
  #onTransition(id: number, from: string, to: HostView['status'], reason: string): void {
    const row = this.#rows.get(id)
    if (!row) return
    this.#o.logger.info({ host: row.hostname, from, to, reason }, 'host status')
    this.#rows
      .update(id, { status: to, statusReason: reason })
      .catch((err: unknown) => this.#o.logger.error({ err, host: row.hostname }, 'host status'))
    // Offline: stop dialling; the retry schedule starts it again (its cursor is kept).
    if (to === 'offline') void this.#links.disconnect(id)
  }

  #view(id: number): HostView | undefined {
    const row = this.#rows.get(id)
    return row && viewOf(row, this.cursor(id), this.#rows.ban(id))
  }
}
