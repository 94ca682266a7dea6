// Where the stored account states stand in the event log, as the last checkpoints left them:
// one seq for every account, or with account shards one per shard, the shard count stored
// beside them (accounts/account-rows.ts writes both). Recovery replays the log from the lowest
// and applies a record to an account only past the checkpoint that covers it, using the shard
// count the checkpoints were written with (which may differ from this start's).
// Deliberately not here: the replay itself (recovery.ts).
import {
  ACCOUNT_SHARDS_KEY,
  ACCOUNTS_CHECKPOINT_KEY,
  shardCheckpointKey,
} from '../accounts/account-rows.ts'
import { shardOf } from '../accounts/shard-of.ts'

export interface AccountCheckpoints {
  /** The lowest checkpoint: the log is replayed from the record after it. */
  readonly lowest: number
  /** The highest: a log that ends before it was lost or replaced. */
  readonly highest: number
  /** The checkpoint the stored state of `did` is consistent with. */
  of(did: string): number
}

export async function readAccountCheckpoints(meta: {
  get(key: string): Promise<string | undefined>
}): Promise<AccountCheckpoints> {
  const shards = Number((await meta.get(ACCOUNT_SHARDS_KEY)) ?? 0)
  if (!(shards > 0)) {
    const seq = Number((await meta.get(ACCOUNTS_CHECKPOINT_KEY)) ?? 0)
    return { lowest: seq, highest: seq, of: () => seq }
  }
  const seqs: number[] = []
  for (let i = 0; i < shards; i++) {
    seqs.push(Number((await meta.get(shardCheckpointKey(i))) ?? 0))
  }
  return {
    lowest: Math.min(...seqs),
    highest: Math.max(...seqs),
    of: (did) => seqs[shardOf(did, shards)]!,
  }
}
