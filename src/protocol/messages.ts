// subscribeRepos message bodies (lexicons/com/atproto/sync/subscribeRepos.json): `#commit`,
// `#sync`, `#identity`, `#account`, `#info`, and the legacy `#handle`, `#migrate`, `#tombstone`
// which are recognised only so they can be counted and dropped.
// Checks each required field's presence, type and syntax (DID, TID, datetime, repo path, CID
// links), and normalises what the Lexicon allows to be absent (`blobs`, `since`, `rebase`,
// `tooBig`). Unknown fields are ignored (and so dropped on re-encode, docs/design.md §4 item 4).
// Deliberately not checked here: size limits, the CAR slice, the commit inside it, signatures
// and ordering; verify/ does those.
import type { BytesWrapper, CidLink } from '@atcute/cbor'
import { isDecodedBytes, isDecodedCidLink } from './cbor/decoded.ts'
import { isDagCborLink } from './cid.ts'
import type { DropReason } from './drop-reasons.ts'
import type { Frame } from './frame.ts'
import {
  isValidDatetime,
  isValidDid,
  isValidHandle,
  isValidRepoPath,
  isValidTid,
} from './syntax/index.ts'

export interface RepoOp {
  readonly action: 'create' | 'update' | 'delete'
  readonly path: string
  readonly cid: CidLink | null
  readonly prev?: CidLink
}

export interface CommitMessage {
  readonly type: '#commit'
  readonly seq: number
  readonly repo: string
  readonly rev: string
  readonly since: string | null
  readonly commit: CidLink
  readonly blocks: Uint8Array
  readonly ops: readonly RepoOp[]
  readonly blobs: readonly CidLink[]
  readonly prevData?: CidLink
  readonly time: string
  readonly rebase: boolean
  readonly tooBig: boolean
}

export interface SyncMessage {
  readonly type: '#sync'
  readonly seq: number
  readonly did: string
  readonly rev: string
  readonly blocks: Uint8Array
  readonly time: string
}

export interface IdentityMessage {
  readonly type: '#identity'
  readonly seq: number
  readonly did: string
  readonly handle?: string
  readonly time: string
}

export interface AccountMessage {
  readonly type: '#account'
  readonly seq: number
  readonly did: string
  readonly active: boolean
  readonly status?: string
  readonly time: string
}

/** The `#info` names the subscribeRepos Lexicon knows; a host may send others (any text). */
export const INFO_NAMES = ['OutdatedCursor'] as const

export interface InfoMessage {
  readonly type: '#info'
  readonly name: string
  readonly message?: string
}

export type RepoEvent = CommitMessage | SyncMessage | IdentityMessage | AccountMessage
export type StreamMessage = RepoEvent | InfoMessage

export const LEGACY_TYPES: ReadonlySet<string> = new Set(['#handle', '#migrate', '#tombstone'])

export class MessageError extends Error {
  readonly reason: DropReason
  /** The upstream seq, when the body carried a usable one (to move the cursor past it). */
  readonly seq: number | undefined
  constructor(reason: DropReason, message: string, seq?: number) {
    super(message)
    this.name = 'MessageError'
    this.reason = reason
    this.seq = seq
  }
}

type Body = Record<string, unknown>

const invalid = (body: Body, what: string): MessageError =>
  new MessageError('invalid-message', what, safeSeq(body.seq))

function safeSeq(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined
}

function seqOf(body: Body): number {
  const seq = safeSeq(body.seq)
  if (seq === undefined) throw invalid(body, 'seq is missing or not a non-negative integer')
  return seq
}

function did(body: Body, field: string): string {
  const v = body[field]
  if (typeof v !== 'string' || !isValidDid(v)) throw invalid(body, `${field} is not a valid DID`)
  return v
}

function tid(body: Body, field: string): string {
  const v = body[field]
  if (typeof v !== 'string' || !isValidTid(v)) throw invalid(body, `${field} is not a valid TID`)
  return v
}

function time(body: Body): string {
  const v = body.time
  if (typeof v !== 'string' || !isValidDatetime(v))
    throw invalid(body, 'time is not a valid datetime')
  return v
}

function bytes(body: Body, field: string): Uint8Array {
  const v = body[field]
  if (!isDecodedBytes(v)) throw invalid(body, `${field} is not bytes`)
  return (v as BytesWrapper).buf
}

function optionalBool(body: Body, field: string): boolean {
  const v = body[field]
  if (v === undefined || v === null) return false
  if (typeof v !== 'boolean') throw invalid(body, `${field} is not a boolean`)
  return v
}

function op(body: Body, raw: unknown, i: number): RepoOp {
  if (typeof raw !== 'object' || raw === null) throw invalid(body, `ops[${i}] is not an object`)
  const { action, path, cid, prev } = raw as Body
  if (action !== 'create' && action !== 'update' && action !== 'delete') {
    throw invalid(body, `ops[${i}].action is not create, update or delete`)
  }
  if (typeof path !== 'string' || !isValidRepoPath(path))
    throw invalid(body, `ops[${i}].path is not a repo path`)
  if (action === 'delete' ? cid !== null && cid !== undefined : !isDagCborLink(cid)) {
    throw invalid(
      body,
      `ops[${i}].cid must be ${action === 'delete' ? 'null for a delete' : 'a CID link'}`,
    )
  }
  if (prev !== undefined && prev !== null && !isDagCborLink(prev))
    throw invalid(body, `ops[${i}].prev is not a CID link`)
  const out: { action: RepoOp['action']; path: string; cid: CidLink | null; prev?: CidLink } = {
    action,
    path,
    cid: action === 'delete' ? null : (cid as CidLink),
  }
  if (isDagCborLink(prev)) out.prev = prev
  return out
}

function parseCommit(body: Body): CommitMessage {
  const seq = seqOf(body)
  const commit = body.commit
  if (!isDagCborLink(commit)) throw invalid(body, 'commit is not a dag-cbor CID link')
  const since = body.since === undefined || body.since === null ? null : tid(body, 'since')
  if (!Array.isArray(body.ops)) throw invalid(body, 'ops is not an array')
  const ops = body.ops.map((raw, i) => op(body, raw, i))
  const rawBlobs = body.blobs ?? []
  if (!Array.isArray(rawBlobs) || !rawBlobs.every((b) => isDecodedCidLink(b))) {
    throw invalid(body, 'blobs is not an array of CID links')
  }
  const prevData = body.prevData
  if (prevData !== undefined && prevData !== null && !isDagCborLink(prevData)) {
    throw invalid(body, 'prevData is not a CID link')
  }
  const msg: CommitMessage = {
    type: '#commit',
    seq,
    repo: did(body, 'repo'),
    rev: tid(body, 'rev'),
    since,
    commit,
    blocks: bytes(body, 'blocks'),
    ops,
    blobs: rawBlobs as CidLink[],
    time: time(body),
    rebase: optionalBool(body, 'rebase'),
    tooBig: optionalBool(body, 'tooBig'),
  }
  return isDagCborLink(prevData) ? { ...msg, prevData } : msg
}

function parseAccount(body: Body): AccountMessage {
  const active = body.active
  if (typeof active !== 'boolean') throw invalid(body, 'active is not a boolean')
  const status = body.status
  if (status !== undefined && status !== null && typeof status !== 'string') {
    throw invalid(body, 'status is not a string')
  }
  const msg: AccountMessage = {
    type: '#account',
    seq: seqOf(body),
    did: did(body, 'did'),
    active,
    time: time(body),
  }
  return typeof status === 'string' ? { ...msg, status } : msg
}

function parseIdentity(body: Body): IdentityMessage {
  const msg: IdentityMessage = {
    type: '#identity',
    seq: seqOf(body),
    did: did(body, 'did'),
    time: time(body),
  }
  // An upstream handle is only a hint (the relay emits the one the DID document claims), so a
  // malformed one is ignored rather than dropping the event.
  const handle = body.handle
  return typeof handle === 'string' && isValidHandle(handle) ? { ...msg, handle } : msg
}

function parseInfo(body: Body): InfoMessage {
  if (typeof body.name !== 'string') throw invalid(body, 'name is not a string')
  return typeof body.message === 'string'
    ? { type: '#info', name: body.name, message: body.message }
    : { type: '#info', name: body.name }
}

/** Interprets a decoded message frame. Throws `MessageError` with the drop reason. */
export function parseMessage(frame: Extract<Frame, { op: 1 }>): StreamMessage {
  const { type, body } = frame
  switch (type) {
    case '#commit':
      return parseCommit(body)
    case '#sync':
      return {
        type: '#sync',
        seq: seqOf(body),
        did: did(body, 'did'),
        rev: tid(body, 'rev'),
        blocks: bytes(body, 'blocks'),
        time: time(body),
      }
    case '#identity':
      return parseIdentity(body)
    case '#account':
      return parseAccount(body)
    case '#info':
      return parseInfo(body)
    default:
      if (LEGACY_TYPES.has(type))
        throw new MessageError('legacy-type', `legacy message type ${type}`, safeSeq(body.seq))
      throw new MessageError(
        'unknown-type',
        `unknown message type ${type.slice(0, 64)}`,
        safeSeq(body.seq),
      )
  }
}
