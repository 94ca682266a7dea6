// The relay's requests to a PDS's sync API, for resyncs and repairs: `listRepos` (a page of the
// host's accounts with their heads), `getRepo` (a whole repo as a CAR), `getLatestCommit` and
// `getBlocks` (the signed head alone). Every request goes only to a public address (resolved
// first and pinned, unless the host is a `localhost` one and insecure hosts are allowed), has a
// time limit, reads at most a bounded body, and follows no redirect.
// Failures are PdsRequestError with a kind callers branch on: `gone` for an account the PDS does
// not serve (404, or the Lexicon's RepoNotFound / RepoTakendown / RepoDeactivated /
// RepoSuspended), `rate-limited` for a 429 (with when the PDS's limit resets, from its
// `ratelimit-reset` or `retry-after` header, so the caller can hold the host back until then),
// the rest for the host or its answer. A caller's own abort (the relay stopping) is not a failure
// of the host: the request stops and the caller's abort reason is thrown as it is.
// Deliberately not here: verifying what comes back (verify/), pacing requests (pacer.ts).
import { checkedLookup } from '../hosts/address.ts'
import { UnsafeAddressError } from '../hosts/errors.ts'
import { errorCode, getFromHost, type HostResponse } from '../net/host-request.ts'
import { isValidDid } from '../protocol/syntax/index.ts'

export const PDS_REQUEST_KINDS = [
  'gone',
  'rate-limited',
  'unreachable',
  'timeout',
  'unsafe-address',
  'too-large',
  'http',
  'bad-answer',
] as const
export type PdsRequestKind = (typeof PDS_REQUEST_KINDS)[number]

export class PdsRequestError extends Error {
  override readonly name = 'PdsRequestError'
  readonly kind: PdsRequestKind
  readonly host: string
  readonly status: number | undefined
  /** The Lexicon error name the PDS answered with, if any. */
  readonly error: string | undefined
  /** `rate-limited`: when the PDS says its limit resets (ms since the epoch), if it says. */
  readonly retryAt: number | undefined

  constructor(
    host: string,
    kind: PdsRequestKind,
    message: string,
    options?: { status?: number; error?: string; retryAt?: number; cause?: unknown },
  ) {
    super(message, { cause: options?.cause })
    this.host = host
    this.kind = kind
    this.status = options?.status
    this.error = options?.error
    this.retryAt = options?.retryAt
  }
}

export interface PdsTarget {
  readonly hostname: string
  readonly ssl: boolean
}

export interface ListedRepo {
  readonly did: string
  /** The head commit's CID. */
  readonly head: string
  readonly rev: string
  readonly active: boolean
  readonly status?: string
}

export interface PdsClientOptions {
  readonly userAgent: string
  readonly allowInsecure: boolean
  /** Largest repo export read (bytes); a larger one fails `too-large`. */
  readonly maxRepoBytes: number
  /** Time limit of a repo export; other requests get REQUEST_TIMEOUT_MS. */
  readonly repoTimeoutMs: number
}

const REQUEST_TIMEOUT_MS = 30_000
const MAX_JSON_BYTES = 4 * 1024 * 1024
const MAX_COMMIT_CAR_BYTES = 64 * 1024
const GONE_ERRORS = new Set(['RepoNotFound', 'RepoTakendown', 'RepoDeactivated', 'RepoSuspended'])

export class PdsClient {
  readonly #o: PdsClientOptions

  constructor(options: PdsClientOptions) {
    this.#o = options
  }

  async listRepos(
    target: PdsTarget,
    cursor: string | null,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ repos: ListedRepo[]; cursor: string | null }> {
    const q = new URLSearchParams({ limit: String(limit) })
    if (cursor) q.set('cursor', cursor)
    const json = await this.#json(target, 'com.atproto.sync.listRepos', q, signal)
    const list = (json as { repos?: unknown }).repos
    if (!Array.isArray(list)) throw this.#bad(target, 'listRepos answer has no repos list')
    const repos: ListedRepo[] = []
    for (const r of list as Record<string, unknown>[]) {
      if (typeof r !== 'object' || r === null) continue
      const { did, head, rev, active, status } = r
      // An entry that is not a usable repo is skipped, not fatal: one bad row must not stop a
      // resync of every other account on the host.
      if (typeof did !== 'string' || !isValidDid(did)) continue
      if (typeof head !== 'string' || typeof rev !== 'string') continue
      repos.push({
        did,
        head,
        rev,
        active: active !== false,
        ...(typeof status === 'string' ? { status } : {}),
      })
    }
    const next = (json as { cursor?: unknown }).cursor
    return { repos, cursor: typeof next === 'string' && next !== '' ? next : null }
  }

  async getLatestCommit(
    target: PdsTarget,
    did: string,
    signal?: AbortSignal,
  ): Promise<{ cid: string; rev: string }> {
    const json = await this.#json(
      target,
      'com.atproto.sync.getLatestCommit',
      new URLSearchParams({ did }),
      signal,
    )
    const { cid, rev } = json as Record<string, unknown>
    if (typeof cid !== 'string' || typeof rev !== 'string') {
      throw this.#bad(target, 'getLatestCommit answer has no cid and rev')
    }
    return { cid, rev }
  }

  /**
   * A CAR with the blocks named (the head commit, for a repair). PDSes send it with no root in
   * its header: the caller picks the blocks out by CID.
   */
  getBlocks(
    target: PdsTarget,
    did: string,
    cids: readonly string[],
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const q = new URLSearchParams({ did })
    for (const c of cids) q.append('cids', c)
    return this.#bytes(
      target,
      'com.atproto.sync.getBlocks',
      q,
      MAX_COMMIT_CAR_BYTES,
      REQUEST_TIMEOUT_MS,
      signal,
    )
  }

  /** The whole repo as a CAR. */
  getRepo(target: PdsTarget, did: string, signal?: AbortSignal): Promise<Uint8Array> {
    return this.#bytes(
      target,
      'com.atproto.sync.getRepo',
      new URLSearchParams({ did }),
      this.#o.maxRepoBytes,
      this.#o.repoTimeoutMs,
      signal,
    )
  }

  async #json(
    target: PdsTarget,
    method: string,
    q: URLSearchParams,
    caller: AbortSignal | undefined,
  ): Promise<unknown> {
    const body = await this.#bytes(target, method, q, MAX_JSON_BYTES, REQUEST_TIMEOUT_MS, caller)
    try {
      const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
      if (typeof json !== 'object' || json === null) throw new Error('not an object')
      return json
    } catch (err) {
      throw this.#bad(target, `${method} answered with something other than a JSON object`, err)
    }
  }

  async #bytes(
    target: PdsTarget,
    method: string,
    q: URLSearchParams,
    maxBytes: number,
    timeoutMs: number,
    caller: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    const host = target.hostname
    const url = new URL(`${target.ssl ? 'https' : 'http'}://${host}/xrpc/${method}?${q}`)
    caller?.throwIfAborted()
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = caller ? AbortSignal.any([timeout, caller]) : timeout
    let res: HostResponse
    try {
      const lookup = await checkedLookup(url, this.#o.allowInsecure, signal)
      res = await getFromHost(url, { 'user-agent': this.#o.userAgent }, signal, lookup)
    } catch (err) {
      if (caller?.aborted) throw caller.reason
      if (err instanceof UnsafeAddressError) {
        throw new PdsRequestError(
          host,
          'unsafe-address',
          `${host} resolves to a non-public address`,
          { cause: err },
        )
      }
      if (timeout.aborted) {
        throw new PdsRequestError(
          host,
          'timeout',
          `no answer from ${host} within ${timeoutMs} ms`,
          { cause: err },
        )
      }
      throw new PdsRequestError(
        host,
        'unreachable',
        `could not connect to ${host}${errorCode(err)}`,
        { cause: err },
      )
    }
    try {
      if (res.status !== 200) {
        const body = await res.read(MAX_JSON_BYTES).catch(() => null)
        const error = lexiconError(body)
        const kind =
          res.status === 429
            ? 'rate-limited'
            : res.status === 404 || (error && GONE_ERRORS.has(error))
              ? 'gone'
              : 'http'
        const retryAt = kind === 'rate-limited' ? resetTime(res) : undefined
        throw new PdsRequestError(
          host,
          kind,
          `${method} answered HTTP ${res.status}${error ? ` ${error}` : ''}`,
          {
            status: res.status,
            ...(error ? { error } : {}),
            ...(retryAt !== undefined ? { retryAt } : {}),
          },
        )
      }
      const body = await res.read(maxBytes)
      if (body === null) {
        throw new PdsRequestError(host, 'too-large', `${method} answer is over ${maxBytes} bytes`, {
          status: 200,
        })
      }
      return body
    } catch (err) {
      if (err instanceof PdsRequestError) throw err
      if (caller?.aborted) throw caller.reason
      if (timeout.aborted) {
        throw new PdsRequestError(
          host,
          'timeout',
          `${method} from ${host} took over ${timeoutMs} ms`,
          { cause: err },
        )
      }
      throw new PdsRequestError(
        host,
        'unreachable',
        `${method} from ${host} failed${errorCode(err)}`,
        { cause: err },
      )
    }
  }

  #bad(target: PdsTarget, message: string, cause?: unknown): PdsRequestError {
    return new PdsRequestError(target.hostname, 'bad-answer', message, { cause })
  }
}

/**
 * When a 429 says the limit resets (ms since the epoch): `ratelimit-reset` (seconds since the
 * epoch, as atproto PDSes send it) or `retry-after` (seconds from now); undefined if neither.
 */
function resetTime(res: HostResponse): number | undefined {
  const reset = Number(res.header('ratelimit-reset') ?? Number.NaN)
  if (Number.isFinite(reset) && reset > 0) return reset * 1000
  const after = Number(res.header('retry-after') ?? Number.NaN)
  if (Number.isFinite(after) && after >= 0) return Date.now() + after * 1000
  return undefined
}

/** The `error` name of an XRPC error body, if it is one. */
function lexiconError(body: Uint8Array | null): string | undefined {
  if (!body) return undefined
  try {
    const json = JSON.parse(new TextDecoder().decode(body)) as { error?: unknown }
    return typeof json.error === 'string' ? json.error.slice(0, 100) : undefined
  } catch {
    return undefined
  }
}
