// A compact in-memory table from did:plc identifiers to a small unsigned value (for `relay
// plc-hosts`: the index of the PDS host the DID's latest operation declares). Pure, no I/O.
//
// Why not a Map<string, number>: the full PLC directory has 40M+ DIDs. V8 refuses a Map beyond
// 2^24 (~16.7M) entries (measured: RangeError), and a flat string key plus its Map entry costs
// ~77 bytes per DID (measured; ~3.1 GB for 40M, split over several Maps). Here a DID's 24 base32 characters (120 bits, the truncated sha-256 of
// its genesis operation) are packed into four 30-bit words, and each slot is five uint32s (four
// key words, one value): 20 bytes per slot. The table is split into 256 shards of open addressing
// with linear probing, each doubling on its own at 80% load, so a shard's growth copies 1/256 of
// the table, not all of it. Memory: 20 B / load (40–80%), so ~25–50 B per DID; for 40M DIDs
// 256 shards × 2^18 slots × 20 B = 1.34 GB (measured: 1.65 GB peak RSS for a process inserting
// 40M DIDs, ~0.8M inserts/s including building the strings); 50M–100M DIDs take 2.7 GB.
// Entries are never removed (a tombstoned DID keeps its slot with a value saying so), which keeps
// probing simple.
// Deliberately not here: what the values mean, persistence (plc-hosts-state.ts journals changes).

const SHARD_BITS = 8
const SHARDS = 1 << SHARD_BITS
const INITIAL_SLOTS = 1024 // per shard: 256 × 1024 × 20 B = 5 MB to start
const MAX_LOAD = 0.8
const OCCUPIED = 0x40000000 // set in a stored first word (key words are 30 bits), so 0 = empty
const WORD_MASK = 0x3fffffff
const PREFIX = 'did:plc:'
const SUFFIX_LENGTH = 24

/** Returned by get/set when the DID is not in the table. */
export const ABSENT = -1

/** A DID packed by encodeDid: four 30-bit words. */
export type DidKey = Uint32Array

export function newDidKey(): DidKey {
  return new Uint32Array(4)
}

/**
 * Packs `did:plc:<24 base32 chars>` (lowercase a–z, 2–7) into `out`; false (out unspecified)
 * for anything else, including upper case, which the PLC never issues.
 */
export function encodeDid(did: string, out: DidKey): boolean {
  if (did.length !== PREFIX.length + SUFFIX_LENGTH || !did.startsWith(PREFIX)) return false
  let pos = PREFIX.length
  for (let w = 0; w < 4; w++) {
    let word = 0
    for (let i = 0; i < 6; i++) {
      const c = did.charCodeAt(pos++)
      let v: number
      if (c >= 97 && c <= 122) v = c - 97
      else if (c >= 50 && c <= 55) v = c - 24
      else return false
      word = word * 32 + v
    }
    out[w] = word
  }
  return true
}

/** The inverse of encodeDid (for tests and debugging). */
export function decodeDid(key: DidKey): string {
  let s = PREFIX
  for (let w = 0; w < 4; w++) {
    const word = key[w]!
    for (let i = 5; i >= 0; i--) {
      const v = Math.floor(word / 32 ** i) % 32
      s += String.fromCharCode(v < 26 ? 97 + v : v + 24)
    }
  }
  return s
}

interface Shard {
  keys: Uint32Array // 4 words per slot; keys[4i] === 0 means empty
  values: Uint32Array
  size: number
  mask: number
}

function hash(k0: number, k1: number, k2: number, k3: number): number {
  let h = Math.imul(k0 ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ k1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16) ^ k2, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ k3, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

function newShard(slots: number): Shard {
  return {
    keys: new Uint32Array(slots * 4),
    values: new Uint32Array(slots),
    size: 0,
    mask: slots - 1,
  }
}

export class DidHostTable {
  readonly #shards: Shard[] = []
  #size = 0

  constructor() {
    for (let i = 0; i < SHARDS; i++) this.#shards.push(newShard(INITIAL_SLOTS))
  }

  /** Number of DIDs in the table. */
  get size(): number {
    return this.#size
  }

  /** Bytes held by the slot arrays. */
  get byteLength(): number {
    let n = 0
    for (const s of this.#shards) n += s.keys.byteLength + s.values.byteLength
    return n
  }

  /** The value stored for `key`, or ABSENT. */
  get(key: DidKey): number {
    const k0 = key[0]! | OCCUPIED
    const k1 = key[1]!
    const k2 = key[2]!
    const k3 = key[3]!
    const h = hash(key[0]!, k1, k2, k3)
    const shard = this.#shards[h >>> (32 - SHARD_BITS)]!
    const { keys, mask } = shard
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const at = i * 4
      const s0 = keys[at]!
      if (s0 === 0) return ABSENT
      if (s0 === k0 && keys[at + 1] === k1 && keys[at + 2] === k2 && keys[at + 3] === k3) {
        return shard.values[i]!
      }
    }
  }

  /** Stores `value` (a uint32) for `key`; returns the previous value, or ABSENT if new. */
  set(key: DidKey, value: number): number {
    const h = hash(key[0]!, key[1]!, key[2]!, key[3]!)
    const shard = this.#shards[h >>> (32 - SHARD_BITS)]!
    const previous = insert(shard, h, key[0]!, key[1]!, key[2]!, key[3]!, value)
    if (previous === ABSENT) {
      this.#size++
      if (shard.size > (shard.mask + 1) * MAX_LOAD) grow(shard)
    }
    return previous
  }

  /** Calls `fn` with the value of every DID (in no particular order). */
  forEachValue(fn: (value: number) => void): void {
    for (const shard of this.#shards) {
      const { keys, values } = shard
      for (let i = 0; i <= shard.mask; i++) if (keys[i * 4] !== 0) fn(values[i]!)
    }
  }
}

function insert(
  shard: Shard,
  h: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
  value: number,
): number {
  const stored0 = k0 | OCCUPIED
  const { keys, mask } = shard
  for (let i = h & mask; ; i = (i + 1) & mask) {
    const at = i * 4
    const s0 = keys[at]!
    if (s0 === 0) {
      keys[at] = stored0
      keys[at + 1] = k1
      keys[at + 2] = k2
      keys[at + 3] = k3
      shard.values[i] = value
      shard.size++
      return ABSENT
    }
    if (s0 === stored0 && keys[at + 1] === k1 && keys[at + 2] === k2 && keys[at + 3] === k3) {
      const previous = shard.values[i]!
      shard.values[i] = value
      return previous
    }
  }
}

function grow(shard: Shard): void {
  const old = { ...shard }
  const bigger = newShard((shard.mask + 1) * 2)
  for (let i = 0; i <= old.mask; i++) {
    const at = i * 4
    const s0 = old.keys[at]!
    if (s0 === 0) continue
    const k0 = s0 & WORD_MASK
    const k1 = old.keys[at + 1]!
    const k2 = old.keys[at + 2]!
    const k3 = old.keys[at + 3]!
    insert(bigger, hash(k0, k1, k2, k3), k0, k1, k2, k3, old.values[i]!)
  }
  shard.keys = bigger.keys
  shard.values = bigger.values
  shard.mask = bigger.mask
  shard.size = bigger.size
}
