// What the relay's main thread reads of a `#commit` or `#sync` frame: its type, `seq`, the
// account's DID and `rev`, after both CBOR items pass the strict DAG-CBOR scan (so a frame that
// does not decode still ends the connection, and one that breaks DAG-CBOR's rules is still
// dropped, before ingest). Strict DAG-CBOR the decoder cannot hold (an integer past 2^53 in some
// other field, a CID of another codec or length) now reaches the worker, which drops it as
// `non-canonical-cbor` with the same detail the full parse gives. Everything else the body
// holds (ops, CIDs, the CAR slice, `time`, every other field's type and syntax) is decoded and
// checked once, by the verify worker, which parses the whole message (messages.ts) before it
// verifies; a message that breaks a rule there is dropped with the same reason and detail it
// would have got here. Parsing it here as well cost the main thread ~10% of its time per event,
// for fields it never uses.
// Anything that is not a well-formed envelope (not these two types, a body that is not a map,
// a missing or malformed seq, DID or rev) gives `null`: the caller then parses the frame in full,
// so every drop reason before ingest stays exactly what the full parse says.
// Deliberately not here: the other message types (rare; parsed in full), and anything about the
// values beyond their syntax.
import { dagCborItemEnd } from './cbor/strict.ts'
import type { AccountMessage, IdentityMessage } from './messages.ts'
import { isValidDid, isValidTid } from './syntax/index.ts'

/** A `#commit` or `#sync` before verification: only what ordering and host authority need. */
export interface RepoEnvelope {
  readonly type: '#commit' | '#sync'
  readonly seq: number
  /** `repo` of a `#commit`, `did` of a `#sync`; a valid DID. */
  readonly did: string
  /** A valid TID. */
  readonly rev: string
}

/** An upstream event as the main thread hands it to ingest. */
export type UpstreamEvent = RepoEnvelope | IdentityMessage | AccountMessage

// `ignoreBOM`: read text as the full parse does, a leading byte order mark kept (it would
// otherwise drop it, and a DID behind one would read as valid here and not there).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0))

const KEY_OP = ascii('op')
const KEY_T = ascii('t')
const KEY_SEQ = ascii('seq')
const KEY_REV = ascii('rev')
const KEY_REPO = ascii('repo')
const KEY_DID = ascii('did')
const TYPES = new Map<string, RepoEnvelope['type']>([
  ['#commit', '#commit'],
  ['#sync', '#sync'],
])

/** A CBOR head: major type, argument, where its payload starts. */
interface Head {
  readonly major: number
  readonly arg: number
  readonly payload: number
}

/** The head at `pos` (only called on items the strict scan accepted: shortest, definite). */
function readHead(b: Uint8Array, pos: number): Head {
  const initial = b[pos]!
  const major = initial >> 5
  const info = initial & 0x1f
  if (info < 24) return { major, arg: info, payload: pos + 1 }
  if (info === 24) return { major, arg: b[pos + 1]!, payload: pos + 2 }
  if (info === 25) return { major, arg: (b[pos + 1]! << 8) | b[pos + 2]!, payload: pos + 3 }
  if (info === 26) return { major, arg: uint32(b, pos + 1), payload: pos + 5 }
  // Above 2^53 this is not exact, and not a safe integer: nothing read here is that long.
  return { major, arg: uint32(b, pos + 1) * 2 ** 32 + uint32(b, pos + 5), payload: pos + 9 }
}

const uint32 = (b: Uint8Array, i: number): number =>
  b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!)

/** Whether the text-string head `h` (a map key) is `key`. */
function keyIs(b: Uint8Array, h: Head, key: Uint8Array): boolean {
  if (h.arg !== key.length) return false
  for (let i = 0; i < key.length; i++) if (b[h.payload + i] !== key[i]) return false
  return true
}

/** The text string at `pos`, or undefined for another type. */
function textAt(b: Uint8Array, pos: number): string | undefined {
  const h = readHead(b, pos)
  return h.major === 3 ? utf8.decode(b.subarray(h.payload, h.payload + h.arg)) : undefined
}

/**
 * The envelope of a `#commit` or `#sync` frame, or null: for any other frame, and for any frame
 * the full parse must judge (see the header). Never throws.
 */
export function readRepoEnvelope(bytes: Uint8Array): RepoEnvelope | null {
  try {
    const headerEnd = dagCborItemEnd(bytes, 0)
    // The type first: other frames are parsed in full anyway, scanned there.
    const type = headerType(bytes)
    if (type === undefined) return null
    if (dagCborItemEnd(bytes, headerEnd) !== bytes.length) return null
    return body(bytes, headerEnd, type)
  } catch {
    return null
  }
}

/** The header's `t` when it is `{ op: 1, t: '#commit' | '#sync' }`. */
function headerType(b: Uint8Array): RepoEnvelope['type'] | undefined {
  const map = readHead(b, 0)
  if (map.major !== 5 || map.arg !== 2) return undefined
  // Canonical key order is shortest first: `t`, then `op`.
  const tKey = readHead(b, map.payload)
  if (!keyIs(b, tKey, KEY_T)) return undefined
  const tAt = tKey.payload + tKey.arg
  const t = textAt(b, tAt)
  if (t === undefined) return undefined
  const opKey = readHead(b, dagCborItemEnd(b, tAt))
  if (!keyIs(b, opKey, KEY_OP)) return undefined
  const op = readHead(b, opKey.payload + opKey.arg)
  return op.major === 0 && op.arg === 1 ? TYPES.get(t) : undefined
}

function body(b: Uint8Array, start: number, type: RepoEnvelope['type']): RepoEnvelope | null {
  const map = readHead(b, start)
  if (map.major !== 5) return null
  let pos = map.payload
  let seq: number | undefined
  let did: string | undefined
  let rev: string | undefined
  const didKey = type === '#commit' ? KEY_REPO : KEY_DID
  for (let entries = map.arg; entries > 0; entries--) {
    const key = readHead(b, pos)
    const valueAt = key.payload + key.arg
    if (keyIs(b, key, KEY_SEQ)) {
      const v = readHead(b, valueAt)
      if (v.major !== 0 || !Number.isSafeInteger(v.arg)) return null
      seq = v.arg
    } else if (keyIs(b, key, didKey)) {
      did = textAt(b, valueAt)
    } else if (keyIs(b, key, KEY_REV)) {
      rev = textAt(b, valueAt)
    }
    // Already scanned whole; scanned again item by item to find where the next key starts.
    pos = dagCborItemEnd(b, valueAt)
  }
  if (seq === undefined || did === undefined || rev === undefined) return null
  if (!isValidDid(did) || !isValidTid(rev)) return null
  return { type, seq, did, rev }
}
