// CAR v1 slices as carried in `#commit` and `#sync` `blocks`: a header naming root CIDs, then
// blocks. Checks: the archive parses to its last byte, the header is a CAR v1 header with at
// least one root, every CID is CIDv1 sha-256 dag-cbor/raw (the reader enforces this), and every
// block's bytes hash to its CID. A block may repeat only with identical bytes (which the hash
// check implies).
// Also encodes slices (tests, benches, and later archival mode).
// Deliberately not checked here: whether the blocks decode, or which blocks a message needs;
// verify/ decides that.
import { fromUint8Array } from '@atcute/car'
import { encode } from '@atcute/cbor'
import * as CID from '@atcute/cid'
import { blockMatchesCid } from './cid.ts'

export type CarProblem = 'malformed' | 'no-roots' | 'hash-mismatch'

export class CarError extends Error {
  readonly code: CarProblem
  constructor(code: CarProblem, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CarError'
    this.code = code
  }
}

export interface CarSlice {
  /** Root CIDs as base32 strings, in header order. */
  readonly roots: readonly string[]
  /** Blocks by base32 CID string. */
  readonly blocks: ReadonlyMap<string, Uint8Array>
}

/** Parses a CAR v1 slice and checks every block against its CID. Throws `CarError`. */
export function readCarSlice(bytes: Uint8Array): CarSlice {
  let roots: string[]
  const blocks = new Map<string, Uint8Array>()
  try {
    const reader = fromUint8Array(bytes)
    roots = reader.roots.map((r) => r.$link)
    for (const entry of reader) {
      if (!blockMatchesCid(entry.cid, entry.bytes)) {
        throw new CarError(
          'hash-mismatch',
          `block ${CID.toString(entry.cid)} does not match its CID`,
        )
      }
      blocks.set(CID.toString(entry.cid), entry.bytes)
    }
  } catch (err) {
    if (err instanceof CarError) throw err
    throw new CarError('malformed', `malformed CAR: ${(err as Error).message}`, { cause: err })
  }
  if (roots.length === 0) throw new CarError('no-roots', 'CAR header has no roots')
  return { roots, blocks }
}

/** Encodes a CAR v1 slice (header with `roots`, then the blocks in the given order). */
export function encodeCarSlice(
  roots: readonly string[],
  blocks: Iterable<readonly [string, Uint8Array]>,
): Uint8Array {
  const header = encode({ version: 1, roots: roots.map((r) => ({ $link: r })) })
  const body = encodeCarBlocks(
    (function* () {
      for (const [cid, bytes] of blocks) yield [CID.fromString(cid).bytes, bytes] as const
    })(),
  )
  return concatAll([varint(header.length), header, body])
}

/**
 * CAR blocks without a header (a CAR streamed in pieces after its header): each the length of
 * the CID and data, the CID's binary form, then the data.
 */
export function encodeCarBlocks(
  blocks: Iterable<readonly [cidBytes: Uint8Array, data: Uint8Array]>,
): Uint8Array {
  const parts: Uint8Array[] = []
  for (const [cid, data] of blocks) parts.push(varint(cid.length + data.length), cid, data)
  return concatAll(parts)
}

function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const p of parts) total += p.length
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function varint(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}
