// Test support for archival mode end to end: the relay's admin API as a test calls it, and the
// independent checks of what the relay serves from its mirror against what the reference PDS
// serves. The checks use the reference implementation's own repo library (`@atproto/repo`), not
// the relay's code: a whole-repo CAR is verified (signature against the DID document's key, every
// MST node and record present and hashing to its CID) and reduced to its records by path; a
// getRecord answer is verified as a proof that the record is, or is not, in the signed tree.
// Deliberately not here: the test's steps and assertions about the relay's state.
import assert from 'node:assert/strict'
import { type RecordCidClaim, readCar, verifyProofs, verifyRepoCar } from '@atproto/repo'
import { parseVerificationMethod } from '../../src/verify/crypto/keys.ts'
import { type DevNetwork, signingMethod } from './atproto-dev.ts'
import { ADMIN_KEY } from './relay-harness.ts'

export interface AdminAnswer {
  readonly status: number
  readonly json: Record<string, unknown>
}

/** One admin call with the test admin key; the body (when given) is sent as JSON. */
export async function admin(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { query?: Record<string, string>; body?: unknown } = {},
): Promise<AdminAnswer> {
  const url = new URL(path, base)
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v)
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}

/** A repo as verified from its CAR: the signed head and every record's CID by path. */
export interface VerifiedExport {
  readonly rev: string
  readonly commit: string
  readonly records: Map<string, string>
  /** The same CIDs as the library's objects (what a proof claim names). */
  readonly cids: Map<string, NonNullable<RecordCidClaim['cid']>>
}

/** The account's signing key as a `did:key`, from its DID document now (the reference PLC
 * writes the legacy secp256k1 method form, which the library does not read directly). */
export async function didKeyOf(net: DevNetwork, did: string): Promise<string> {
  return parseVerificationMethod(signingMethod(await net.didDocument(did))).didKey
}

/** Verifies a whole-repo CAR with the reference library and lists its records. */
export async function verifyExport(
  car: Uint8Array,
  did: string,
  didKey: string,
): Promise<VerifiedExport> {
  const repo = await verifyRepoCar(car, did, didKey)
  const records = new Map<string, string>()
  const cids = new Map<string, NonNullable<RecordCidClaim['cid']>>()
  for (const c of repo.creates) {
    records.set(`${c.collection}/${c.rkey}`, c.cid.toString())
    cids.set(`${c.collection}/${c.rkey}`, c.cid)
  }
  return { rev: repo.commit.rev, commit: repo.commit.cid.toString(), records, cids }
}

/** A CAR's blocks by CID string, each checked against its CID by the reference library. */
export async function carBlocks(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  const { blocks } = await readCar(bytes)
  blocks.forEach((b, cid) => {
    out.set(cid.toString(), b)
  })
  return out
}

export async function fetchBytes(
  url: string,
): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual' })
  return {
    status: res.status,
    bytes: new Uint8Array(await res.arrayBuffer()),
    headers: res.headers,
  }
}

const sync = (base: string, method: string, params: Record<string, string>) =>
  `${base}/xrpc/com.atproto.sync.${method}?${new URLSearchParams(params)}`

/**
 * The relay's getRepo for `did`, served from its mirror (200, not a redirect), equal record by
 * record and at the same signed head as the PDS's own export. Returns the verified export.
 */
export async function assertMirrorEqualsPds(
  net: DevNetwork,
  relayUrl: string,
  pdsHostname: string,
  did: string,
): Promise<VerifiedExport> {
  const key = await didKeyOf(net, did)
  const fromPds = await fetchBytes(sync(`http://${pdsHostname}`, 'getRepo', { did }))
  assert.equal(fromPds.status, 200, `the PDS serves ${did}`)
  const fromRelay = await fetchBytes(sync(relayUrl, 'getRepo', { did }))
  assert.equal(fromRelay.status, 200, `the relay serves ${did} from its mirror`)
  assert.equal(fromRelay.headers.get('content-type'), 'application/vnd.ipld.car')
  const pds = await verifyExport(fromPds.bytes, did, key)
  const relay = await verifyExport(fromRelay.bytes, did, key)
  assert.equal(fromRelay.headers.get('atproto-repo-rev'), relay.rev, 'Atproto-Repo-Rev is the head')
  assert.deepEqual(
    [relay.rev, relay.commit],
    [pds.rev, pds.commit],
    `${did}: the same signed head as the PDS`,
  )
  assert.deepEqual(relay.records, pds.records, `${did}: the same records as the PDS`)
  return relay
}

/** Whether the relay's mirror of `did` is at the PDS's head now (for waiting on repairs). */
export async function mirrorAtPdsHead(
  relayUrl: string,
  pdsHostname: string,
  did: string,
): Promise<boolean> {
  const pds = await fetch(sync(`http://${pdsHostname}`, 'getLatestCommit', { did }))
  const head = (await pds.json()) as { rev?: string }
  const relay = await fetch(sync(relayUrl, 'getRepo', { did }), { redirect: 'manual' })
  await relay.body?.cancel()
  return relay.status === 200 && relay.headers.get('atproto-repo-rev') === head.rev
}

/**
 * The relay's getRecord answer proves the record at `collection/rkey` is in the account's signed
 * tree with CID `cid`, or (cid null) that no record is there.
 */
export async function assertRecordProof(
  net: DevNetwork,
  relayUrl: string,
  did: string,
  path: string,
  cid: RecordCidClaim['cid'],
): Promise<void> {
  const [collection, rkey] = path.split('/') as [string, string]
  const res = await fetchBytes(sync(relayUrl, 'getRecord', { did, collection, rkey }))
  assert.equal(res.status, 200, `getRecord ${path} is served from the mirror`)
  const { verified, unverified } = await verifyProofs(
    res.bytes,
    [{ collection, rkey, cid }],
    did,
    await didKeyOf(net, did),
  )
  assert.deepEqual(
    [verified.length, unverified.length],
    [1, 0],
    `getRecord ${path}: proof of ${cid === null ? 'absence' : 'presence'}`,
  )
}
