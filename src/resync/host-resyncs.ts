// Whole-host resyncs (`POST /admin/pds/resync?host=`, `sync_pds.sh`): the relay pages through
// the host's accounts (`com.atproto.sync.listRepos`), compares each listed head with what it
// holds (the account's head, and the mirror's in archival mode), and has RepoSyncer fetch and
// take in every account that differs; each one whose state changed is announced with `#sync`.
// Inactive accounts are skipped. Fetches run a few at a time and every request waits for the
// host's crawl-rate slot. One resync per host at a time; asking again while one runs answers its
// progress.
// Progress is stored in the meta table (`resync.host.<hostname>`) as each page is listed and then
// every few accounts, so operators watch it move; with it, the accounts of the current page
// already done. A resync interrupted by a restart lists the page it was in again and skips those,
// so its counts stay exact.
// Listing failures are tried again three times before the resync ends `failed` (a 429 also holds
// the host back until its limit resets, pacer.ts); an unexpected error ends it `failed` too, with
// the error. Stopping aborts the requests in flight and waits for the account syncs running.
// Deliberately not here: fetching and taking in one account (repo-syncer.ts), HTTP (admin/).

import { setTimeout as sleep } from 'node:timers/promises'
import type { HostPacer } from './pacer.ts'
import { type ListedRepo, type PdsClient, PdsRequestError } from './pds-client.ts'
import type { SyncAccountResult, SyncHost } from './repo-syncer.ts'

export const RESYNC_STATUSES = ['running', 'done', 'failed'] as const
export type ResyncStatus = (typeof RESYNC_STATUSES)[number]

/** A resync's progress, as the admin API answers it. */
export interface ResyncProgress {
  readonly pds: string
  readonly numRepoPages: number
  readonly numRepos: number
  readonly numReposChecked: number
  readonly numReposToResync: number
  readonly numReposResynced: number
  readonly numReposFailed: number
  readonly status: ResyncStatus
  readonly statusChangedAt: string
  readonly lastError: string | null
}

type Counts = Pick<
  ResyncProgress,
  | 'numRepoPages'
  | 'numRepos'
  | 'numReposChecked'
  | 'numReposToResync'
  | 'numReposResynced'
  | 'numReposFailed'
>

interface StoredJob extends ResyncProgress {
  /** listRepos cursor of the page being worked on (or the next); null for the first. */
  readonly cursor: string | null
  /** Accounts of the page being worked on that are done; null until the page is counted. */
  readonly pageDone?: readonly string[] | null
}

/** Within a page, progress is written after this many accounts or this long, whichever first. */
const SAVE_EVERY_REPOS = 20
const SAVE_EVERY_MS = 1000

const KEY_PREFIX = 'resync.host.'
const PAGE_SIZE = 500
const FETCH_CONCURRENCY = 4
const LIST_ATTEMPTS = 3

export interface HostResyncsDeps {
  readonly meta: {
    get(key: string): Promise<string | undefined>
    set(key: string, value: string): Promise<void>
    entries(prefix: string): Promise<{ key: string; value: string }[]>
  }
  readonly pds: PdsClient
  readonly pacer: HostPacer
  readonly hostByName: (hostname: string) => SyncHost | undefined
  /** Whether the relay's copy of a listed account differs from the listing. */
  readonly needsSync: (repo: ListedRepo) => Promise<boolean>
  readonly syncAccount: (
    did: string,
    opts: { expectHost: string; announce: boolean; signal: AbortSignal },
  ) => Promise<SyncAccountResult>
  readonly logger: {
    info(obj: object, msg: string): void
    warn(obj: object, msg: string): void
    error(obj: object, msg: string): void
  }
  readonly now: () => number
  /** Wait before listing a page again after a failure, times the attempt (default 1 s). */
  readonly listRetryMs?: number
}

export class HostResyncs {
  readonly #d: HostResyncsDeps
  readonly #running = new Map<string, { abort: AbortController; done: Promise<void> }>()
  #stopped = false

  constructor(deps: HostResyncsDeps) {
    this.#d = deps
  }

  /** Starts a resync of a known host (or answers the running one's progress). */
  async start(host: SyncHost): Promise<ResyncProgress> {
    const running = this.#running.get(host.hostname)
    if (running) return (await this.progress(host.hostname))!
    const job: StoredJob = {
      pds: host.hostname,
      numRepoPages: 0,
      numRepos: 0,
      numReposChecked: 0,
      numReposToResync: 0,
      numReposResynced: 0,
      numReposFailed: 0,
      status: 'running',
      statusChangedAt: new Date(this.#d.now()).toISOString(),
      lastError: null,
      cursor: null,
    }
    const saved = this.#save(job)
    // Registered before the first await, so a second start meanwhile answers this one.
    this.#run(host, job, saved)
    await saved
    return publicView(job)
  }

  /** Host resyncs running now. */
  get running(): number {
    return this.#running.size
  }

  async progress(hostname: string): Promise<ResyncProgress | undefined> {
    const job = await this.#load(hostname)
    return job && publicView(job)
  }

  async #load(hostname: string): Promise<StoredJob | undefined> {
    const raw = await this.#d.meta.get(KEY_PREFIX + hostname)
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredJob)
  }

  async list(): Promise<ResyncProgress[]> {
    const rows = await this.#d.meta.entries(KEY_PREFIX)
    return rows.map((r) => publicView(JSON.parse(r.value) as StoredJob))
  }

  /** At start: continues every resync a restart interrupted. */
  async resume(): Promise<void> {
    for (const r of await this.#d.meta.entries(KEY_PREFIX)) {
      const job = JSON.parse(r.value) as StoredJob
      if (job.status !== 'running') continue
      const host = this.#d.hostByName(job.pds)
      if (!host) {
        await this.#save({
          ...job,
          ...this.#status('failed'),
          lastError: 'the host is no longer known',
        })
        continue
      }
      this.#d.logger.info({ host: job.pds, pages: job.numRepoPages }, 'resuming host resync')
      this.#run(host, job)
    }
  }

  /** Stops every running resync (its progress stays stored, to be resumed). */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const r of this.#running.values()) r.abort.abort(new Error('the relay is stopping'))
    await Promise.allSettled([...this.#running.values()].map((r) => r.done))
  }

  #run(host: SyncHost, start: StoredJob, ready?: Promise<void>): void {
    if (this.#stopped) return
    const abort = new AbortController()
    const done = (ready ?? Promise.resolve())
      .then(() => this.#loop(host, start, abort.signal))
      .catch(async (err: unknown) => {
        if (abort.signal.aborted) return
        // An unexpected failure (a bug, the database gone) ends the job as failed, with the
        // error, so its status never stays `running` with nothing running it.
        this.#d.logger.error({ err, host: host.hostname }, 'host resync failed')
        const stored = await this.#load(host.hostname).catch(() => undefined)
        const lastError = err instanceof Error ? err.message : String(err)
        await this.#save({ ...(stored ?? start), ...this.#status('failed'), lastError }).catch(
          (saveErr: unknown) =>
            this.#d.logger.error(
              { err: saveErr, host: host.hostname },
              'resync status write failed',
            ),
        )
      })
      .finally(() => this.#running.delete(host.hostname))
    this.#running.set(host.hostname, { abort, done })
  }

  async #loop(host: SyncHost, start: StoredJob, signal: AbortSignal): Promise<void> {
    let job: StoredJob = start
    this.#d.logger.info({ host: host.hostname }, 'host resync started')
    for (;;) {
      const page = await this.#listPage(host, job.cursor, signal)
      if ('error' in page) {
        job = { ...job, ...this.#status('failed'), lastError: page.error }
        await this.#save(job)
        this.#d.logger.warn({ host: host.hostname, error: page.error }, 'host resync failed')
        return
      }
      if (!job.pageDone) {
        job = {
          ...job,
          pageDone: [],
          numRepoPages: job.numRepoPages + 1,
          numRepos: job.numRepos + page.repos.length,
        }
        await this.#save(job)
      }
      const already = new Set(job.pageDone)
      let unsaved = 0
      let savedAt = this.#d.now()
      const bump = async (did: string, ...fields: (keyof Counts)[]) => {
        const next = counts(job)
        for (const f of fields) next[f]++
        job = { ...job, ...next, pageDone: [...(job.pageDone ?? []), did] }
        if (++unsaved >= SAVE_EVERY_REPOS || this.#d.now() - savedAt >= SAVE_EVERY_MS) {
          unsaved = 0
          savedAt = this.#d.now()
          await this.#save(job)
        }
      }
      const todo = page.repos.filter((r) => !already.has(r.did))
      await eachLimited(todo, FETCH_CONCURRENCY, async (repo) => {
        if (signal.aborted) return
        if (!repo.active || !(await this.#d.needsSync(repo))) {
          await bump(repo.did, 'numReposChecked')
          return
        }
        const out = await this.#d.syncAccount(repo.did, {
          expectHost: host.hostname,
          announce: false,
          signal,
        })
        if (out.result === 'failed') {
          this.#d.logger.warn(
            { host: host.hostname, did: repo.did, reason: out.reason, detail: out.detail },
            'resync of an account failed',
          )
        }
        // Counted when done, with the account, so a resumed page never counts it twice.
        await bump(
          repo.did,
          'numReposChecked',
          'numReposToResync',
          out.result === 'failed' ? 'numReposFailed' : 'numReposResynced',
        )
      })
      signal.throwIfAborted()
      const finished = page.cursor === null || page.repos.length === 0
      job = { ...job, cursor: page.cursor, pageDone: null }
      if (finished) job = { ...job, ...this.#status('done') }
      await this.#save(job)
      if (finished) {
        this.#d.logger.info(publicView(job), 'host resync done')
        return
      }
      this.#d.logger.info(publicView(job), 'host resync page done')
    }
  }

  async #listPage(
    host: SyncHost,
    cursor: string | null,
    signal: AbortSignal,
  ): Promise<{ repos: ListedRepo[]; cursor: string | null } | { error: string }> {
    let lastError = ''
    for (let attempt = 1; attempt <= LIST_ATTEMPTS; attempt++) {
      await this.#d.pacer.take(host.id, host.crawlRate, signal)
      try {
        return await this.#d.pds.listRepos(host, cursor, PAGE_SIZE, signal)
      } catch (err) {
        signal.throwIfAborted()
        lastError = err instanceof Error ? err.message : String(err)
        if (err instanceof PdsRequestError && err.kind === 'rate-limited') {
          this.#d.pacer.rateLimited(host.id, err.retryAt)
        }
        if (attempt < LIST_ATTEMPTS) {
          await sleep((this.#d.listRetryMs ?? 1000) * attempt, undefined, { signal })
        }
      }
    }
    return { error: `listRepos failed ${LIST_ATTEMPTS} times: ${lastError}` }
  }

  #status(status: ResyncStatus): { status: ResyncStatus; statusChangedAt: string } {
    return { status, statusChangedAt: new Date(this.#d.now()).toISOString() }
  }

  #save(job: StoredJob): Promise<void> {
    return this.#d.meta.set(KEY_PREFIX + job.pds, JSON.stringify(job))
  }
}

function publicView(job: StoredJob): ResyncProgress {
  const { cursor: _cursor, pageDone: _pageDone, ...view } = job
  return view
}

function counts(job: Counts): { -readonly [K in keyof Counts]: number } {
  return {
    numRepoPages: job.numRepoPages,
    numRepos: job.numRepos,
    numReposChecked: job.numReposChecked,
    numReposToResync: job.numReposToResync,
    numReposResynced: job.numReposResynced,
    numReposFailed: job.numReposFailed,
  }
}

/**
 * `fn` over the items, `limit` at a time. After a failure no item is started, and it is thrown
 * once every running `fn` has ended: a stopped resync leaves nothing of its own running.
 */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  const ends = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  )
  for (const end of ends) if (end.status === 'rejected') throw end.reason
}
