// A shard's appends cross to the main thread with their frames in one buffer of the message's
// own: the same bytes, views into that buffer, the encoder's shared pool left attached, and the
// other ops as they were.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { packAppendFrames } from './append-frames.ts'
import type { ShardOp } from './shard-messages.ts'

test("a message's append frames travel in one transferred buffer; other ops as they are", async () => {
  const pool = Uint8Array.of(1, 2, 3, 4, 5, 6, 7)
  const ops: ShardOp[] = [
    ['append', 1, 10, 'did:plc:a', '#commit', pool.subarray(0, 2), pool.subarray(2, 3), undefined],
    ['settled', 1, 10, false],
    ['append', 2, 11, 'did:plc:b', '#sync', pool.subarray(3, 6), new Uint8Array(0), 'resync'],
  ]
  const { ops: packed, transfer } = packAppendFrames(ops)
  assert.equal(transfer.length, 1)
  assert.equal(transfer[0]!.byteLength, 6)
  assert.equal(packed[1], ops[1])
  const { port1, port2 } = new MessageChannel()
  const received = new Promise<ShardOp[]>((resolve) => port2.once('message', resolve))
  port1.postMessage(packed, transfer)
  const got = await received
  port1.close()
  assert.equal(pool.byteLength, 7, 'the shared pool is not detached')
  assert.deepEqual(got, ops)
  const first = got[0]!
  const third = got[2]!
  assert.ok(first[0] === 'append' && third[0] === 'append')
  assert.equal(first[5].buffer, third[6].buffer)
  assert.deepEqual([third[5].byteOffset, third[5].length], [3, 3])
})

test('a message without appends transfers nothing', () => {
  const ops: ShardOp[] = [['settled', 1, 10, true]]
  assert.deepEqual(packAppendFrames(ops), { ops, transfer: [] })
})
