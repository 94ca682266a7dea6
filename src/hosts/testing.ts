// Test support: `Hosts` built for real on a fresh SQLite database (temp directory), with
// `RelaySettings` loaded from that database's meta table, a silent logger, a clock the test moves,
// a probe that answers (unless the test gives another), and callbacks that record what Hosts
// asked of the rest of the relay. Also fake PDSes named as a crawl request names them, rows
// written straight to the store (as an earlier run left them), and a polling wait. Everything is
// stopped, closed and removed when the test ends. Never used by production code.
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { HostPatch, HostRow } from '../db/hosts.ts'
import { type TempDatabase, tempDatabase } from '../db/testing.ts'
import { silentLogger } from '../observability/logger.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import { FakePds } from '../upstream/testing/fake-pds.ts'
import { CrawlRefusedError } from './crawl-error.ts'
import { Hosts, type HostsOptions } from './hosts.ts'
import { RelaySettings } from './settings.ts'

/** Where the test clock starts (ms since the epoch). */
export const T0 = Date.parse('2025-01-01T00:00:00.000Z')

/** Rejects with a CrawlRefusedError of `kind`. */
export async function refused(p: Promise<unknown>, kind: CrawlRefusedError['kind']): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CrawlRefusedError, String(err))
    assert.equal(err.kind, kind)
    return true
  })
}

/**
 * A port no socket can use: a dial of the host fails at once, before any DNS lookup. For made-up
 * names that a test lets Hosts dial (an unblock connects): a lookup would reach the network, and
 * a slow resolver would hold up the tests after it.
 */
export const NO_DIAL = ':99999'

/** Each host's status and ban kind, by its name without NO_DIAL. */
export const statuses = (hosts: Hosts) =>
  Object.fromEntries(
    hosts.list().map((h) => [h.hostname.replace(NO_DIAL, ''), [h.status, h.ban?.kind ?? null]]),
  )

/** The account limit a new host gets in these tests (`--default-account-limit`). */
export const DEFAULT_ACCOUNT_LIMIT = 100

export interface HostsRigOptions {
  readonly publicCrawlEnabled?: boolean
  readonly newHostsPerDayLimit?: number
  readonly trustedDomains?: readonly string[]
  readonly config?: Partial<HostsOptions['config']>
  /** Replaces the probe that answers (calls are recorded either way). */
  readonly probe?: HostsOptions['probe']
  readonly statusOptions?: HostsOptions['statusOptions']
  readonly statusTickMs?: number
}

/** What Hosts asked of the rest of the relay, in order. */
export interface Recorded {
  readonly events: { hostId: number; seq: number; type: string }[]
  readonly drops: { hostId: number; reason: DropReason; seq: number | undefined }[]
  readonly cursorResets: number[]
  readonly persists: number[]
  readonly limitRaises: { hostId: number; slots: number }[]
  readonly probes: { hostname: string; ssl: boolean; allowInsecure: boolean }[]
}

export interface HostsRig {
  readonly temp: TempDatabase
  /** The test's clock: Hosts and the database read `clock.now`. */
  readonly clock: { now: number }
  readonly calls: Recorded
  /** While `update` is true, every host row update Hosts makes fails (a database fault). */
  readonly storeFaults: { update: boolean }
  /** Writes a host row straight to the store (as an earlier run left it); `load()` reads it. */
  addHost(hostname: string, patch?: HostPatch): Promise<HostRow>
  /** A new Hosts on the rig's database (its settings read from there too), loaded. */
  open(): Promise<Hosts>
  /** A fake PDS on loopback and the name a crawl request gives it (`localhost:PORT`). */
  pds(): Promise<{ readonly pds: FakePds; readonly hostname: string }>
  /** Polls until `predicate` holds; fails after 5 s (a guard, not a timing assertion). */
  until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void>
}

export async function hostsRig(t: TestContext, opts: HostsRigOptions = {}): Promise<HostsRig> {
  const clock = { now: T0 }
  const temp = await tempDatabase({ now: () => new Date(clock.now) })
  const opened: Hosts[] = []
  const pdses: FakePds[] = []
  t.after(async () => {
    for (const h of opened) await h.stop()
    for (const p of pdses) await p.close()
    await temp[Symbol.asyncDispose]()
  })
  const calls: Recorded = {
    events: [],
    drops: [],
    cursorResets: [],
    persists: [],
    limitRaises: [],
    probes: [],
  }
  const probe: HostsOptions['probe'] = async (target, allowInsecure) => {
    calls.probes.push({ hostname: target.hostname, ssl: target.ssl, allowInsecure })
    return opts.probe ? opts.probe(target, allowInsecure) : {}
  }
  const storeFaults = { update: false }
  const store = new Proxy(temp.db.hosts, {
    get(target, prop) {
      if (prop === 'update' && storeFaults.update) {
        return () => Promise.reject(new Error('the database is unavailable (test fault)'))
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const until = async (predicate: () => boolean | Promise<boolean>, what: string) => {
    const end = Date.now() + 5_000
    while (!(await predicate())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  return {
    temp,
    clock,
    calls,
    storeFaults,
    until,
    async addHost(hostname, patch = {}) {
      const row = await temp.db.hosts.create({
        hostname,
        ssl: !hostname.startsWith('localhost'),
        accountLimit: DEFAULT_ACCOUNT_LIMIT,
      })
      return Object.keys(patch).length === 0 ? row : temp.db.hosts.update(row.id, patch)
    },
    async open() {
      const settings = await RelaySettings.load(temp.db.meta, {
        publicCrawlEnabled: { value: opts.publicCrawlEnabled ?? false, source: 'default' },
        newHostsPerDayLimit: { value: opts.newHostsPerDayLimit ?? 50, source: 'default' },
        trustedDomains: { value: opts.trustedDomains ?? [], source: 'default' },
      })
      const hosts = new Hosts({
        store,
        meta: temp.db.meta,
        settings,
        config: {
          allowInsecureHosts: false,
          defaultAccountLimit: DEFAULT_ACCOUNT_LIMIT,
          hostConcurrency: 40,
          syncRatchetCommits: 100,
          syncValidation: 'auto',
          userAgent: 'hosts-test',
          ...opts.config,
        },
        probe,
        logger: silentLogger(),
        now: () => clock.now,
        statusOptions: opts.statusOptions,
        statusTickMs: opts.statusTickMs,
        onEvent: (hostId, msg) => calls.events.push({ hostId, seq: msg.seq, type: msg.type }),
        onDrop: (hostId, reason, seq) => calls.drops.push({ hostId, reason, seq }),
        onCursorReset: (hostId) => calls.cursorResets.push(hostId),
        persist: async () => {
          calls.persists.push(clock.now)
        },
        onAccountLimitRaised: async (hostId, slots) => {
          calls.limitRaises.push({ hostId, slots })
          return slots
        },
      })
      opened.push(hosts)
      await hosts.load()
      return hosts
    },
    async pds() {
      const pds = await FakePds.start()
      pdses.push(pds)
      // The fake PDS listens on 127.0.0.1; a crawl request may not name an IP address.
      return { pds, hostname: `localhost:${pds.hostname.split(':')[1]}` }
    },
  }
}
