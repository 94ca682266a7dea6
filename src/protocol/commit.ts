// Repository commit objects (repository spec, "Commit Objects"): the signed root of a repo.
// Checks the shape: `did` (string), `version` 3 (or the older 2 with the same fields), `data`
// (CID link to the MST root), `rev` (string), `prev` (CID link or null), `sig` (bytes), and no
// other fields. Produces the unsigned bytes the signature covers: the same object without `sig`,
// re-encoded as canonical DAG-CBOR.
// Deliberately not checked here: DID and TID syntax, the signature itself, or that `did`/`rev`
// match the event carrying the commit; verify/ does those with the key and the message.

import type { BytesWrapper } from '@atcute/cbor'
import { type CidLink, decode, encode } from '@atcute/cbor'
import { isDecodedBytes } from './cbor/decoded.ts'
import { isDagCborLink } from './cid.ts'

export interface Commit {
  readonly did: string
  readonly version: 2 | 3
  readonly data: CidLink
  readonly rev: string
  /** `undefined` only for a version 2 commit written without the field. */
  readonly prev: CidLink | null | undefined
  readonly sig: Uint8Array
}

export class CommitFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CommitFormatError'
  }
}

const KEYS = new Set(['did', 'version', 'data', 'rev', 'prev', 'sig'])

/** Decodes a commit block (already known to be canonical DAG-CBOR). Throws `CommitFormatError`. */
export function parseCommit(block: Uint8Array): Commit {
  let value: unknown
  try {
    value = decode(block)
  } catch (err) {
    throw new CommitFormatError('commit block does not decode', { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CommitFormatError('commit is not a map')
  }
  const obj = value as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!KEYS.has(key)) throw new CommitFormatError(`unexpected field "${key}" in commit`)
  }
  const { did, version, data, rev, prev, sig } = obj
  if (version !== 3 && version !== 2)
    throw new CommitFormatError(`unsupported commit version ${String(version)}`)
  if (typeof did !== 'string') throw new CommitFormatError('commit.did is not a string')
  if (typeof rev !== 'string') throw new CommitFormatError('commit.rev is not a string')
  if (!isDagCborLink(data)) throw new CommitFormatError('commit.data is not a dag-cbor CID link')
  if (prev !== null && prev !== undefined && !isDagCborLink(prev)) {
    throw new CommitFormatError('commit.prev is neither null nor a CID link')
  }
  if (prev === undefined && version === 3) throw new CommitFormatError('commit.prev is missing')
  if (!isDecodedBytes(sig)) throw new CommitFormatError('commit.sig is not bytes')
  return {
    did,
    version,
    data,
    rev,
    prev: prev as CidLink | null | undefined,
    sig: (sig as BytesWrapper).buf,
  }
}

/** The bytes a commit's signature covers: the commit without `sig`, canonical DAG-CBOR. */
export function unsignedCommitBytes(commit: Commit): Uint8Array {
  const unsigned: Record<string, unknown> = {
    did: commit.did,
    version: commit.version,
    data: commit.data,
    rev: commit.rev,
  }
  if (commit.prev !== undefined) unsigned.prev = commit.prev
  return encode(unsigned)
}
