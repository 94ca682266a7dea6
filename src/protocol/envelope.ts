// What the relay's main thread reads of a `#commit` or `#sync` frame: its type, `seq`, the
// account's DID and `rev`, after both CBOR items pass the strict DAG-CBOR scan (so a frame that
// does not decode still ends the connection, and a non-canonical one is still dropped, before
// ingest). Everything else the body holds (ops, CIDs, the CAR slice, `time`, every other field's
// type and syntax) is decoded and checked once, by the verify worker, which parses the whole
// message (messages.ts) before it verifies; a message that breaks a rule there is dropped with
// the same reason and detail it would have got here. Parsing it here as well cost the main
// thread ~10% of its time per event, for fields it never uses.
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

const utf8 = new TextDecoder('utf-8', { fatal: true })
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

// The argument of the head last read and where its payload starts. Module state is safe: reads
// are synchronous. Only called on items the strict scan accepted (shortest-form, definite).
let arg = 0
let payload = 0

/** Reads the head at `pos`: returns its major type, leaves `arg` and `payload` set. */
function readHead(b: Uint8Array, pos: number): number {
  const initial = b[pos]!
  const info = initial & 0x1f
  if (info < 24) {
    arg = info
    payload = pos + 1
  } else if (info === 24) {
    arg = b[pos + 1]!
    payload = pos + 2
  } else if (info === 25) {
    arg = (b[pos + 1]! << 8) | b[pos + 2]!
    payload = pos + 3
  } else if (info === 26) {
    arg = uint32(b, pos + 1)
    payload = pos + 5
  } else {
    // Above 2^53 this is not exact, and not a safe integer: nothing read here is that long.
    arg = uint32(b, pos + 1) * 2 ** 32 + uint32(b, pos + 5)
    payload = pos + 9
  }
  return initial >> 5
}

const lastArg = (): number => arg

const uint32 = (b: Uint8Array, i: number): number =>
  b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!)

function keyIs(b: Uint8Array, start: number, length: number, key: Uint8Array): boolean {
  if (length !== key.length) return false
  for (let i = 0; i < length; i++) if (b[start + i] !== key[i]) return false
  return true
}

/** The text string at `pos`, or undefined for another type. */
function textAt(b: Uint8Array, pos: number): string | undefined {
  return readHead(b, pos) === 3 ? utf8.decode(b.subarray(payload, payload + arg)) : undefined
}

/**
 * The envelope of a `#commit` or `#sync` frame, or null: for any other frame, and for any frame
 * the full parse must judge (see the header). Never throws.
 */
export function readRepoEnvelope(bytes: Uint8Array): RepoEnvelope | null {
  try {
    const headerEnd = dagCborItemEnd(bytes, 0)
    if (dagCborItemEnd(bytes, headerEnd) !== bytes.length) return null
    const type = headerType(bytes)
    if (type === undefined) return null
    return body(bytes, headerEnd, type)
  } catch {
    return null
  }
}

/** The header's `t` when it is `{ op: 1, t: '#commit' | '#sync' }`. */
function headerType(b: Uint8Array): RepoEnvelope['type'] | undefined {
  if (readHead(b, 0) !== 5 || arg !== 2) return undefined
  // Canonical key order is shortest first: `t`, then `op`.
  readHead(b, payload)
  if (!keyIs(b, payload, arg, KEY_T)) return undefined
  const t = textAt(b, payload + arg)
  readHead(b, payload + arg)
  if (!keyIs(b, payload, arg, KEY_OP)) return undefined
  // Read through a call: the checks above narrowed `arg` to 2 for the compiler.
  const op = readHead(b, payload + arg) === 0 ? lastArg() : undefined
  return op === 1 && t !== undefined ? TYPES.get(t) : undefined
}

function body(b: Uint8Array, start: number, type: RepoEnvelope['type']): RepoEnvelope | null {
  if (readHead(b, start) !== 5) return null
  let entries = arg
  let pos = payload
  let seq: number | undefined
  let did: string | undefined
  let rev: string | undefined
  const didKey = type === '#commit' ? KEY_REPO : KEY_DID
  while (entries-- > 0) {
    readHead(b, pos)
    const keyStart = payload
    const keyLength = arg
    const valueAt = payload + arg
    if (keyIs(b, keyStart, keyLength, KEY_SEQ)) {
      if (readHead(b, valueAt) !== 0 || !Number.isSafeInteger(arg)) return null
      seq = arg
    } else if (keyIs(b, keyStart, keyLength, didKey)) {
      did = textAt(b, valueAt)
    } else if (keyIs(b, keyStart, keyLength, KEY_REV)) {
      rev = textAt(b, valueAt)
    }
    pos = dagCborItemEnd(b, valueAt)
  }
  if (seq === undefined || did === undefined || rev === undefined) return null
  if (!isValidDid(did) || !isValidTid(rev)) return null
  return { type, seq, did, rev }
}
