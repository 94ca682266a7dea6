// Public account reads (Lexicons com.atproto.sync.listRepos, getRepoStatus, getLatestCommit;
// docs/design.md §4 item 19): the relay's view of each account, from the in-memory state when
// it has one (fresher than the database between batch writes). Errors by status: unknown or
// deleted → 404 RepoNotFound; takendown → 403 RepoTakendown; suspended → 403 RepoSuspended;
// deactivated → 403 RepoDeactivated; throttled or no commit known yet → 404 RepoNotFound saying
// which. Repo content (getRepo, getRecord, getBlocks) is repo-export-routes.ts.
import { type AccountState, effectiveStatus } from '../accounts/account-state.ts'
import type { AccountReader } from '../ingest/account-operations.ts'
import { XrpcError } from './errors.ts'
import { limitParam, optionalString, requiredDid } from './params.ts'
import type { Route } from './server.ts'

export interface RepoRouteDeps {
  readonly accounts: AccountReader
  /** Accounts with a known head, by DID after `afterDid`, as stored. */
  readonly listPage: (afterDid: string | null, limit: number) => Promise<readonly AccountState[]>
}

const notFound = (message: string) => new XrpcError(404, 'RepoNotFound', message)

/** The error a read of this account gives, or null when it is readable. */
export function repoReadError(
  state: AccountState | undefined,
  did: string,
  needCommit: boolean,
): XrpcError | null {
  if (!state) return notFound(`no account ${did} on this relay`)
  if (state.upstreamStatus === 'deleted') return notFound('account deleted')
  if (state.localStatus === 'takendown' || state.upstreamStatus === 'takendown') {
    return new XrpcError(403, 'RepoTakendown', `account ${did} is taken down`)
  }
  if (state.upstreamStatus === 'suspended')
    return new XrpcError(403, 'RepoSuspended', `account ${did} is suspended`)
  if (state.upstreamStatus === 'deactivated')
    return new XrpcError(403, 'RepoDeactivated', `account ${did} is deactivated`)
  if (state.localStatus === 'throttled')
    return notFound(
      `account ${did} is throttled on this relay (its host is over its account limit)`,
    )
  if (needCommit && (!state.commitCid || !state.rev))
    return notFound(`no commit of ${did} is known to this relay yet`)
  return null
}

export function repoRoutes(d: RepoRouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.getRepoStatus',
      handle: async (req) => {
        const did = requiredDid(req.query)
        const state = await d.accounts.get(did)
        if (!state) throw notFound(`no account ${did} on this relay`)
        const status = effectiveStatus(state)
        return { json: { did, ...status, ...(state.rev ? { rev: state.rev } : {}) } }
      },
    },
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.getLatestCommit',
      handle: async (req) => {
        const did = requiredDid(req.query)
        const state = await d.accounts.get(did)
        const err = repoReadError(state, did, true)
        if (err) throw err
        return { json: { cid: state!.commitCid, rev: state!.rev } }
      },
    },
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.listRepos',
      handle: async (req) => {
        const limit = limitParam(req.query, 'limit', 1, 1000, 500)
        const cursor = optionalString(req.query, 'cursor', 2048) ?? null
        const rows = await d.listPage(cursor, limit)
        // The states in memory are fresher than the database between checkpoints.
        const repos = (await d.accounts.newest(rows)).map((s) => ({
          did: s.did,
          head: s.commitCid,
          rev: s.rev,
          ...effectiveStatus(s),
        }))
        const out: Record<string, unknown> = { repos }
        if (rows.length === limit) out.cursor = rows.at(-1)!.did
        return { json: out }
      },
    },
  ]
}
