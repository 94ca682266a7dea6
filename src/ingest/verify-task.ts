// The verification task a worker thread runs for one `#commit` or `#sync`: decode the frame,
// parse the message (the main thread read only its envelope, protocol/envelope.ts, so a body that
// breaks a rule is dropped here, with the reason the full parse gives), parse the signing key (a
// did:key the main thread named without checking its point: an unusable one is
// `identity-unavailable` here), verify it
// (verify/commit.ts) with the given key, previous state, clock and mode, and, when accepted, encode the relay's output frame (prefix and suffix around the seq)
// so the main thread does no encoding; in archival mode also the head and blocks the mirror
// applies. Pure apart from the signature backend it is given; the
// same function runs inline in tests and in the worker.

import type { RepoHead } from '../archive/repo-change.ts'
import type { CarSlice } from '../protocol/car.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import { decodeFrame, FrameError } from '../protocol/frame.ts'
import { MessageError, parseMessage } from '../protocol/messages.ts'
import { commitBody, prepareFrame, syncBody } from '../protocol/output.ts'
import { reusedCommitFrame } from '../protocol/upstream-frame.ts'
import { type ValidationMode, verifyCommit, verifySync } from '../verify/commit.ts'
import { KeyParseError, parseDidKey } from '../verify/crypto/keys.ts'
import type { SignatureCheck } from '../verify/signed-commit.ts'
import type { TreeChange } from '../verify/tree-change.ts'
import type { VerifyWarning } from '../verify/verdict.ts'

export interface VerifyTask {
  readonly frame: Uint8Array
  /** The account's signing key as a did:key. */
  readonly didKey: string
  readonly previous: { readonly rev: string; readonly data: string | null } | null
  readonly now: number
  readonly mode: ValidationMode
  /** Archival mode: hand back the commit's head and CAR blocks for the mirror. */
  readonly archive?: boolean
}

/** What the mirror needs of an accepted `#commit` or `#sync` (archival mode only). */
export interface MirrorInput {
  readonly head: RepoHead
  readonly blocks: Map<string, Uint8Array>
  /** A proven commit's change to the tree, worked out here so the mirror need not diff. */
  readonly change?: TreeChange
}

export type VerifyOutcome =
  | {
      readonly ok: true
      readonly type: '#commit' | '#sync'
      readonly rev: string
      readonly commitCid: string
      readonly dataCid: string
      /** `#commit` only: whether the ops inverted to `prevData` (the sync ratchet counts these). */
      readonly inverted: boolean
      readonly warnings: readonly VerifyWarning[]
      readonly prefix: Uint8Array
      readonly suffix: Uint8Array
      readonly mirror?: MirrorInput
    }
  | { readonly ok: false; readonly reason: DropReason; readonly detail: string }

export async function runVerifyTask(
  task: VerifyTask,
  checkSignature: SignatureCheck,
): Promise<VerifyOutcome> {
  let key: ReturnType<typeof parseDidKey>
  try {
    key = parseDidKey(task.didKey)
  } catch (err) {
    // The main thread only names the key (ingest/signing-keys.ts); it is parsed here, once,
    // before the frame: an unusable key drops the event as it did when the main thread parsed it.
    if (!(err instanceof KeyParseError)) throw err
    return {
      ok: false,
      reason: 'identity-unavailable',
      detail: `unusable signing key: ${err.message}`,
    }
  }
  let msg: ReturnType<typeof parseMessage>
  let body: Readonly<Record<string, unknown>>
  try {
    const frame = decodeFrame(task.frame)
    if (frame.op !== 1)
      return { ok: false, reason: 'undecodable-frame', detail: 'not a message frame' }
    msg = parseMessage(frame)
    body = frame.body
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, reason: err.reason, detail: err.message }
    if (err instanceof MessageError) return { ok: false, reason: err.reason, detail: err.message }
    // Hostile input must end as a drop, as it did when the main thread parsed it.
    return { ok: false, reason: 'invalid-message', detail: errorText(err) }
  }
  const ctx = {
    key,
    previous: task.previous,
    now: task.now,
    checkSignature,
    withChange: task.archive === true,
  }
  if (msg.type === '#commit') {
    const v = await verifyCommit(msg, { ...ctx, mode: task.mode })
    if (!v.ok) return v
    // Most commits arrive exactly as the relay emits them: their own bytes are the output.
    const { prefix, suffix } =
      reusedCommitFrame(task.frame, body) ?? prepareFrame('#commit', commitBody(msg))
    return {
      ok: true,
      type: '#commit',
      rev: v.rev,
      commitCid: v.commitCid,
      dataCid: v.dataCid,
      inverted: v.inverted,
      warnings: v.warnings,
      prefix,
      suffix,
      ...(task.archive ? { mirror: mirrorInput(v) } : {}),
    }
  }
  if (msg.type === '#sync') {
    const v = verifySync(msg, ctx)
    if (!v.ok) return v
    const { prefix, suffix } = prepareFrame('#sync', syncBody(msg))
    return {
      ok: true,
      type: '#sync',
      rev: v.rev,
      commitCid: v.commitCid,
      dataCid: v.dataCid,
      inverted: false,
      warnings: v.warnings,
      prefix,
      suffix,
      ...(task.archive ? { mirror: mirrorInput(v) } : {}),
    }
  }
  return { ok: false, reason: 'invalid-message', detail: `${msg.type} is not verified by workers` }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err))

function mirrorInput(v: {
  rev: string
  commitCid: string
  dataCid: string
  car: CarSlice
  change?: TreeChange
}): MirrorInput {
  const commitBlock = v.car.blocks.get(v.commitCid)!
  const blocks = new Map(v.car.blocks)
  blocks.delete(v.commitCid)
  const head = { rev: v.rev, commitCid: v.commitCid, dataCid: v.dataCid, commitBlock }
  return v.change ? { head, blocks, change: v.change } : { head, blocks }
}
