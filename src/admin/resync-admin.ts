// Admin routes for keeping repos right (docs/admin-api.md "Resync and archival mode"): a whole
// host's resync and its progress, every resync's progress (the dashboard), one account's resync,
// the archive's and repairs' status, and, in archival mode, compaction of the mirror. Each parses, calls the part that owns the
// operation (resync/, archive/) and answers.

import { XrpcError } from '../api/errors.ts'
import type { Route } from '../api/server.ts'
import type { Compactor } from '../archive/compaction.ts'
import type { Hosts } from '../hosts/hosts.ts'
import type { ArchiveStatus } from '../resync/archive-status.ts'
import type { HostResyncs } from '../resync/host-resyncs.ts'
import type { RepoSyncer, SyncHost } from '../resync/repo-syncer.ts'
import { hostParam } from './host-admin.ts'
import { didFrom } from './inputs.ts'

export interface ResyncAdminDeps {
  readonly hosts: Hosts
  readonly hostResyncs: HostResyncs
  readonly syncer: Pick<RepoSyncer, 'syncAccount'>
  /** The host as resyncs fetch from it (undefined when banned). */
  readonly syncHost: (hostname: string) => SyncHost | undefined
  /** Archival mode's compaction; undefined when archival mode is off. */
  readonly compactor: Compactor | undefined
  readonly archiveStatus: () => Promise<ArchiveStatus>
}

const archiveOff = () =>
  new XrpcError(400, 'ArchiveDisabled', 'archival mode is off on this relay (--archive)')

export function resyncAdminRoutes(d: ResyncAdminDeps): Route[] {
  const compactor = () => {
    if (!d.compactor) throw archiveOff()
    return d.compactor
  }
  return [
    {
      method: 'POST',
      path: '/admin/pds/resync',
      admin: true,
      handle: async (req) => {
        const host = hostParam(d.hosts, req)
        const target = d.syncHost(host.hostname)
        if (!target) throw new XrpcError(400, 'HostBanned', `${host.hostname} is banned`)
        return { json: { resync: await d.hostResyncs.start(target) } }
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/resync',
      admin: true,
      handle: async (req) => {
        const host = hostParam(d.hosts, req)
        const resync = await d.hostResyncs.progress(host.hostname)
        if (!resync) throw new XrpcError(404, 'NotFound', `no resync of ${host.hostname} has run`)
        return { json: { resync } }
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/resyncs',
      admin: true,
      handle: async () => ({ json: { resyncs: await d.hostResyncs.list() } }),
    },
    {
      method: 'POST',
      path: '/admin/repo/resync',
      admin: true,
      handle: async (req) => {
        const did = didFrom(req, { query: true, body: true })
        return { json: await d.syncer.syncAccount(did, { announce: true }) }
      },
    },
    {
      method: 'GET',
      path: '/admin/archive',
      admin: true,
      handle: async () => ({ json: await d.archiveStatus() }),
    },
    {
      method: 'POST',
      path: '/admin/repo/compactAll',
      admin: true,
      handle: () => ({ json: { compaction: compactor().startAll() } }),
    },
    {
      method: 'GET',
      path: '/admin/repo/compactAll',
      admin: true,
      handle: () => ({ json: { compaction: compactor().progress } }),
    },
    {
      method: 'POST',
      path: '/admin/repo/compact',
      admin: true,
      handle: async (req) => {
        const did = didFrom(req, { query: true, body: true })
        const out = await compactor().compactOne(did)
        if (!out) throw new XrpcError(404, 'RepoNotFound', `${did} is not in the mirror`)
        return { json: { did, ...out } }
      },
    },
  ]
}
