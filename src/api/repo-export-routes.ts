// Public repo content reads (Lexicons com.atproto.sync.getRepo, getRecord, getBlocks). In
// archival mode they are served from the mirror: getRepo streams the stored repo as a CAR (with
// `since`, only the blocks revisions after it added), getRecord answers the commit, the MST nodes
// proving where the record is or would be, and the record when it exists (so an absent record is
// proven absent), and getBlocks answers stored blocks by CID (BlockNotFound naming any missing).
// Each carries the `Atproto-Repo-Rev` header of the mirrored head. An account the mirror does not
// hold yet (being repaired), and every read when archival mode is off, is redirected to the
// account's PDS, as before. Account status errors are repo-routes.ts's `repoReadError`.
// Deliberately not here: the mirror itself (archive/), account status (accounts/).
import type { MirrorReader } from '../archive/mirror.ts'
import type { AccountReader } from '../ingest/account-operations.ts'
import { encodeCarSlice } from '../protocol/car.ts'
import {
  isValidCidString,
  isValidNsid,
  isValidRecordKey,
  isValidTid,
} from '../protocol/syntax/index.ts'
import { invalidRequest, XrpcError } from './errors.ts'
import { optionalString, requiredDid, requiredString } from './params.ts'
import { repoReadError } from './repo-routes.ts'
import type { ApiRequest, ApiResponse, Route } from './server.ts'

export interface RepoExportDeps {
  readonly accounts: Pick<AccountReader, 'get'>
  /** Archival mode's mirror; undefined when archival mode is off. */
  readonly mirror: MirrorReader | undefined
  /** The PDS endpoint (scheme://host[:port]) of a host id, for redirects. */
  readonly hostEndpoint: (hostId: number) => string | null
}

const CAR = 'application/vnd.ipld.car'
const MAX_CIDS = 1000

export function repoExportRoutes(d: RepoExportDeps): Route[] {
  /** The account's state once it may be read; throws the Lexicon's error otherwise. */
  const readable = async (did: string) => {
    const state = await d.accounts.get(did)
    const err = repoReadError(state, did, false)
    if (err) throw err
    return state!
  }
  const redirect = (hostId: number, did: string, method: string, req: ApiRequest): ApiResponse => {
    const endpoint = d.hostEndpoint(hostId)
    if (!endpoint) throw new XrpcError(404, 'RepoNotFound', `the host of ${did} is not known`)
    const target = new URL(`/xrpc/${method}`, endpoint)
    for (const [k, v] of req.query) target.searchParams.append(k, v)
    return { status: 302, redirect: target.toString() }
  }
  return [
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.getRepo',
      handle: async (req) => {
        const did = requiredDid(req.query)
        const since = optionalString(req.query, 'since', 64)
        if (since !== undefined && !isValidTid(since))
          throw invalidRequest('parameter "since" is not a valid TID')
        const state = await readable(did)
        const out = await d.mirror?.exportRepo(did, since)
        if (!out) return redirect(state.hostId, did, 'com.atproto.sync.getRepo', req)
        return {
          stream: out.chunks,
          headers: { 'Content-Type': CAR, 'Atproto-Repo-Rev': out.head.rev },
        }
      },
    },
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.getRecord',
      handle: async (req) => {
        const did = requiredDid(req.query)
        const collection = requiredString(req.query, 'collection', 317)
        const rkey = requiredString(req.query, 'rkey', 512)
        if (!isValidNsid(collection)) throw invalidRequest('parameter "collection" is not an NSID')
        if (!isValidRecordKey(rkey)) throw invalidRequest('parameter "rkey" is not a record key')
        const state = await readable(did)
        const proof = d.mirror && (await d.mirror.recordProof(did, `${collection}/${rkey}`))
        if (!proof) return redirect(state.hostId, did, 'com.atproto.sync.getRecord', req)
        return {
          bytes: proof.car,
          headers: { 'Content-Type': CAR, 'Atproto-Repo-Rev': proof.head.rev },
        }
      },
    },
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.getBlocks',
      handle: async (req) => {
        const did = requiredDid(req.query)
        const cids = req.query.getAll('cids')
        if (cids.length === 0) throw invalidRequest('parameter "cids" is required')
        if (cids.length > MAX_CIDS) throw invalidRequest(`at most ${MAX_CIDS} cids`)
        for (const c of cids)
          if (!isValidCidString(c)) throw invalidRequest(`"${c.slice(0, 80)}" is not a CID`)
        const state = await readable(did)
        const head = await d.mirror?.head(did)
        if (!d.mirror || !head)
          return redirect(state.hostId, did, 'com.atproto.sync.getBlocks', req)
        const found = (await d.mirror.blocks(did, cids)) ?? new Map()
        const missing = cids.filter((c) => !found.has(c))
        if (missing.length > 0) {
          throw new XrpcError(
            400,
            'BlockNotFound',
            `blocks not found: ${missing.slice(0, 10).join(', ')}`,
          )
        }
        const car = encodeCarSlice(
          [],
          cids.map((c) => [c, found.get(c)!] as const),
        )
        return { bytes: car, headers: { 'Content-Type': CAR, 'Atproto-Repo-Rev': head.rev } }
      },
    },
  ]
}
