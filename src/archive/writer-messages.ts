// What the main thread and the archive's writer thread (writer-thread.ts, writer-worker.ts) say
// to each other. Requests made in one turn of the event loop travel together, and so do replies.
// Types only.
import type { DatabaseErrorReason } from '../db/errors.ts'
import type { HeadCheck, RepoChange } from './repo-change.ts'

export type WriteRequest =
  | {
      readonly id: number
      readonly op: 'apply'
      readonly did: string
      readonly change: RepoChange
      readonly now: string
      readonly over: HeadCheck | undefined
    }
  | { readonly id: number; readonly op: 'delete'; readonly did: string }
  | {
      readonly id: number
      readonly op: 'deleteBlocks'
      readonly did: string
      readonly cids: readonly Uint8Array[]
    }
  | { readonly id: number; readonly op: 'reclaim' }

/** A write as its caller asks for it: a request's own fields (the writer side adds the id). */
export type WriteCall = WriteRequest extends infer R
  ? R extends WriteRequest
    ? Omit<R, 'id'>
    : never
  : never

/** A failure as it crosses threads: a DatabaseError's fields (anything else is a `query`). */
export interface WriteFailure {
  readonly operation: string
  readonly reason: DatabaseErrorReason
  /** The driver's own error (its message and code), for logs: what `cause` holds on one thread. */
  readonly cause: string
}

export type WriteReply =
  | { readonly id: number; readonly ok: true; readonly value: boolean | number | undefined }
  | { readonly id: number; readonly ok: false; readonly error: WriteFailure }

/** Main thread → writer. */
export type ToWriter =
  | { readonly kind: 'requests'; readonly requests: readonly WriteRequest[] }
  | { readonly kind: 'close' }

/** Writer → main thread. */
export type FromWriter =
  /** The connection is open: requests may come. */
  | { readonly kind: 'ready' }
  | { readonly kind: 'replies'; readonly replies: readonly WriteReply[] }
  /** The writer could not open the archive, and ends (exit code 1). */
  | { readonly kind: 'failed'; readonly error: WriteFailure }
