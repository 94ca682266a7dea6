// Which account shard owns an account (docs/scaling.md, decision 1): a hash of the whole DID
// modulo the shard count. Stable across restarts with the same count; recovery uses it with the
// count stored beside the checkpoints to tell which shard's checkpoint covers an account.
// Not the account caches' hash (runtime/bounded-cache.ts hashes the DID's last 16 characters),
// so the accounts of one shard still spread over its cache's own shards.

/** The shard (0 ≤ n < count) that owns `did`; 0 when there is at most one. */
export function shardOf(did: string, count: number): number {
  if (count <= 1) return 0
  // FNV-1a over every character, then a full avalanche (MurmurHash3's finaliser): DIDs that
  // differ in one character, or repeat one, still spread evenly.
  let h = 0x811c9dc5
  for (let i = 0; i < did.length; i++) h = Math.imul(h ^ did.charCodeAt(i), 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) % count
}
