// Admin routes about accounts and consumers (docs/admin-api.md "Repos" and "Consumers"): takedown and
// its reversal, the takedown list, "why is this account not flowing?" in one call, a refresh of
// an account's identity and PDS status, and the consumer list.

import type { AccountState } from '../accounts/account-state.ts'
import { effectiveStatus, inactiveReason } from '../accounts/account-state.ts'
import { XrpcError } from '../api/errors.ts'
import type { Route } from '../api/server.ts'
import type { Identity } from '../identity/did-document.ts'
import type { AccountDrop } from '../ingest/drop-counter.ts'
import type { ReverseTakedownResult } from '../ingest/ingest.ts'
import { didFrom } from './inputs.ts'

export interface RepoAdminDeps {
  readonly account: (did: string) => Promise<AccountState | undefined>
  /** False for an account the relay does not know. */
  readonly takeDown: (did: string) => Promise<boolean>
  readonly reverseTakedown: (did: string) => Promise<ReverseTakedownResult>
  readonly takedownPage: (
    cursor: string | null,
    limit: number,
  ) => { dids: string[]; cursor?: string }
  readonly hostname: (hostId: number) => string | null
  readonly drops: (did: string) => readonly AccountDrop[]
  readonly identity: {
    peek(did: string): Identity | undefined | Promise<Identity | undefined>
    refresh(did: string): Promise<Identity | null>
  }
  readonly checkRepoStatus: (
    pds: string,
    did: string,
  ) => Promise<{ active: boolean; status?: string } | null>
  readonly consumers: () => readonly {
    id: number
    remoteAddr: string
    userAgent: string
    eventsSent: number
    connectedAt: string
    cursor: number | null
    state: string
  }[]
}

const ok = { json: { success: 'true' } }
const notFound = (did: string) =>
  new XrpcError(404, 'RepoNotFound', `no account ${did} on this relay`)

function view(
  d: RepoAdminDeps,
  did: string,
  s: AccountState,
  identity: Identity | undefined | null,
) {
  const hostname = d.hostname(s.hostId)
  const blocked = inactiveReason(s)
  return {
    did,
    host: hostname,
    localStatus: s.localStatus,
    upstreamStatus: s.upstreamStatus,
    ...effectiveStatus(s),
    throttled: s.localStatus === 'throttled',
    takendown: s.localStatus === 'takendown',
    desynchronized: s.localStatus === 'desynchronized',
    rev: s.rev,
    commit: s.commitCid,
    data: s.dataCid,
    handle: s.handle,
    identity: identity
      ? { pds: identity.pds, handle: identity.handle, hasKey: identity.signingKey !== null }
      : null,
    flowing: blocked === null,
    why: blocked === null ? null : blocked,
    recentDrops: d.drops(did).map((x) => ({
      reason: x.reason,
      at: new Date(x.at).toISOString(),
      host: d.hostname(x.hostId),
      detail: x.detail,
    })),
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  }
}

export function repoAdminRoutes(d: RepoAdminDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/admin/repo/takeDown',
      admin: true,
      forward: true,
      handle: async (req) => {
        const did = didFrom(req, { body: true })
        if (!(await d.takeDown(did))) throw notFound(did)
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/repo/reverseTakedown',
      admin: true,
      forward: true,
      handle: async (req) => {
        const did = didFrom(req, { body: true, query: true })
        const result = await d.reverseTakedown(did)
        if (result === 'unknown-account') throw notFound(did)
        if (result === 'not-taken-down')
          throw new XrpcError(400, 'InvalidRequest', `${did} is not taken down`)
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/repo/takedowns',
      admin: true,
      handle: (req) => {
        const cursor = req.query.get('cursor')
        return {
          json: d.takedownPage(
            cursor === null || cursor === '' ? null : cursor.slice(0, 2048),
            500,
          ),
        }
      },
    },
    {
      method: 'GET',
      path: '/admin/repo/status',
      admin: true,
      handle: async (req) => {
        const did = didFrom(req, { query: true })
        const state = await d.account(did)
        if (!state) {
          const drops = d.drops(did)
          throw new XrpcError(
            404,
            'RepoNotFound',
            drops.length > 0
              ? `no account ${did} on this relay; its recent events were dropped: ${drops.map((x) => x.reason).join(', ')}`
              : `no account ${did} on this relay (no event of it has been accepted)`,
          )
        }
        return { json: view(d, did, state, await d.identity.peek(did)) }
      },
    },
    {
      method: 'POST',
      path: '/admin/repo/refresh',
      admin: true,
      handle: async (req) => {
        const did = didFrom(req, { query: true, body: true })
        const identity = await d.identity.refresh(did)
        const pdsStatus = identity?.pds ? await d.checkRepoStatus(identity.pds, did) : null
        const state = await d.account(did)
        return {
          json: {
            did,
            identity: identity
              ? { pds: identity.pds, handle: identity.handle, hasKey: identity.signingKey !== null }
              : null,
            pdsStatus,
            account: state ? view(d, did, state, identity) : null,
          },
        }
      },
    },
    {
      method: 'GET',
      path: '/admin/consumers/list',
      admin: true,
      handle: () => ({
        json: d.consumers().map((c) => ({
          id: c.id,
          remote_addr: c.remoteAddr,
          user_agent: c.userAgent,
          events_consumed: c.eventsSent,
          connected_at: c.connectedAt,
          cursor: c.cursor,
          state: c.state,
        })),
      }),
    },
  ]
}
