// The frames a shard's ops message carries to the main thread's log, as they cross: every
// `append` op's prefix and suffix are copied into one buffer of the message's own, which is
// transferred, and the ops carry views into it. Copied, because an encoder may hand out views
// into a shared pool, which cannot be transferred without detaching its neighbours; one buffer
// per message rather than two per event, because each transferred buffer costs both threads
// ~1.5 µs (BENCHMARKS.md, session 24). The bytes are read only now, when the message is sent:
// a verification's output stays as it was made (ingest/verify-messages.ts, `postableReplies`).
// Deliberately not here: the other ops, and the archive's buffers (archive/change-buffers.ts).
import { PackedBytes } from '../runtime/packed-bytes.ts'
import type { ShardOp } from './shard-messages.ts'

/** `ops` with their appends' frames in one new buffer, and that buffer to transfer (if any). */
export function packAppendFrames(ops: readonly ShardOp[]): {
  ops: readonly ShardOp[]
  transfer: ArrayBuffer[]
} {
  let size = 0
  for (const op of ops) if (op[0] === 'append') size += op[5].length + op[6].length
  if (size === 0) return { ops, transfer: [] }
  const frames = new PackedBytes(size)
  const packed = ops.map((op): ShardOp => {
    if (op[0] !== 'append') return op
    const [, hostId, upstreamSeq, did, type, prefix, suffix, note] = op
    return ['append', hostId, upstreamSeq, did, type, frames.add(prefix), frames.add(suffix), note]
  })
  return { ops: packed, transfer: [frames.bytes.buffer] }
}
