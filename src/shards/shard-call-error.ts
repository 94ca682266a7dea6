// A call to an account shard that did not answer with a value: the shard's operation threw (its
// error's name and message cross the thread boundary as text; `remoteName` lets a caller branch
// on the kind, e.g. an identity that does not exist), or the shard ended first.
import type { ShardMethod } from './shard-messages.ts'

export class ShardCallError extends Error {
  override readonly name = 'ShardCallError'
  readonly shard: number
  readonly method: ShardMethod
  /** The name of the error the shard's operation threw; null when the shard ended. */
  readonly remoteName: string | null

  constructor(shard: number, method: ShardMethod, remoteName: string | null, message: string) {
    super(`account shard ${shard}, ${method}: ${message}`)
    this.shard = shard
    this.method = method
    this.remoteName = remoteName
  }
}
