// A change's blocks as they cross to another thread. Posting a view copies its whole buffer, and
// an import's blocks are views into the repo's CAR (up to `--repo-fetch-max-bytes`), which a
// change of a few blocks would drag along; so a change whose blocks leave most of their buffers
// unused is packed first: its blocks copied into one buffer of their own, which can also be
// transferred rather than copied. A commit's blocks are views into its frame, a buffer of its own
// of a few KiB: posted as they are.
// Deliberately not here: which thread posts what (writer-thread.ts, shards/).
import { LARGE_BUFFER_BYTES } from '../runtime/own-buffer.ts'
import type { RepoChange } from './repo-change.ts'

const blocksOf = (change: RepoChange): Uint8Array[] => [
  change.head.commitBlock,
  ...change.addNodes.values(),
  ...change.addRecords.map(([, bytes]) => bytes),
]

/**
 * The blocks' own bytes when posting them would copy much more: their buffers hold over 64 KiB
 * and more than twice the blocks' bytes; else null.
 */
function draggedBytes(blocks: readonly Uint8Array[]): number | null {
  const buffers = new Set<ArrayBufferLike>()
  let needed = 0
  for (const b of blocks) {
    buffers.add(b.buffer)
    needed += b.byteLength
  }
  let viewed = 0
  for (const buffer of buffers) viewed += buffer.byteLength
  return viewed > LARGE_BUFFER_BYTES && viewed > 2 * needed ? needed : null
}

/** The change with every block copied into one ArrayBuffer of `bytes` bytes. */
function pack(change: RepoChange, bytes: number): { change: RepoChange; buffer: ArrayBuffer } {
  const buffer = new ArrayBuffer(bytes)
  let at = 0
  const own = (b: Uint8Array): Uint8Array => {
    const copy = new Uint8Array(buffer, at, b.byteLength)
    copy.set(b)
    at += b.byteLength
    return copy
  }
  return {
    buffer,
    change: {
      head: { ...change.head, commitBlock: own(change.head.commitBlock) },
      addNodes: new Map([...change.addNodes].map(([cid, b]) => [cid, own(b)])),
      removeNodes: change.removeNodes,
      addRecords: change.addRecords.map(([cid, b]) => [cid, own(b)] as const),
      removeRecords: change.removeRecords,
    },
  }
}

/** The change as it is posted (copied): packed when its blocks would drag large buffers along. */
export function postableChange(change: RepoChange): RepoChange {
  const bytes = draggedBytes(blocksOf(change))
  return bytes === null ? change : pack(change, bytes).change
}

/**
 * The change as it is posted with `transfer` in the transfer list: packed, and its buffer moved
 * rather than copied, when its blocks would drag large buffers along; otherwise as it is, with
 * nothing to transfer.
 */
export function transferableChange(change: RepoChange): {
  change: RepoChange
  transfer: ArrayBuffer[]
} {
  const bytes = draggedBytes(blocksOf(change))
  if (bytes === null) return { change, transfer: [] }
  const packed = pack(change, bytes)
  return { change: packed.change, transfer: [packed.buffer] }
}
