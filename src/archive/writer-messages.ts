// What the main thread and the archive's writer thread (writer-thread.ts, writer-worker.ts) say
// to each other. Requests made in one turn of the event loop travel together, and so do replies.
// Types only.
import type { DatabaseErrorReason } from '../db/errors.ts'
import type { RepoChange } from './repo-change.ts'
import type { HeadCheck } from './sqlite-apply.ts'

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

/** A failure as it crosses threads: a DatabaseError's fields (anything else is a `query`). */
export interface WriteFailure {
  readonly operation: string
  readonly reason: DatabaseErrorReason
  readonly message: string
}

export type WriteReply =
  | { readonly id: number; readonly ok: true; readonly value: boolean | number }
  | { readonly id: number; readonly ok: false; readonly error: WriteFailure }

/** Main thread → writer. */
export type ToWriter =
  | { readonly kind: 'requests'; readonly requests: readonly WriteRequest[] }
  | { readonly kind: 'close' }

/** Writer → main thread. */
export type FromWriter =
  | { readonly kind: 'replies'; readonly replies: readonly WriteReply[] }
  /** The writer could not open the archive: every request will fail with this. */
  | { readonly kind: 'failed'; readonly error: WriteFailure }
  | { readonly kind: 'closed' }
