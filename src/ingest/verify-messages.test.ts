// The flat form of an accepted event's reply, as the worker sends it: it must carry the very
// same outcome, and every other reply goes as it is. A group's frames share one transferred buffer.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import {
  type AcceptedReply,
  packReply,
  postableReplies,
  postableRequests,
  type Reply,
  type Request,
  unpackReply,
} from './verify-messages.ts'
import type { VerifyOutcome } from './verify-task.ts'

const raw = Uint8Array.of(0)
const cid = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'

type AcceptedOutcome = Extract<VerifyOutcome, { ok: true }>

/** An accepted event's reply with these output bytes (a `#commit` that inverted, by default). */
const accepted = (
  id: number,
  prefix: Uint8Array,
  suffix: Uint8Array,
  fields: Partial<Pick<AcceptedOutcome, 'type' | 'inverted' | 'warnings' | 'mirror'>> = {},
): Reply => ({
  id,
  outcome: {
    ok: true,
    type: '#commit',
    rev: '3l2xkrd5xsc2a',
    commitCid: cid,
    dataCid: cid,
    inverted: true,
    warnings: [],
    prefix,
    suffix,
    ...fields,
  },
})

test('an accepted event without mirror input goes flat and comes back the same', () => {
  for (const type of ['#commit', '#sync'] as const) {
    const reply = accepted(9, Uint8Array.of(1, 2), Uint8Array.of(3), {
      type,
      inverted: type === '#commit',
      warnings: ['missing-prev-data'],
    })
    const packed = packReply(reply)
    assert.ok(Array.isArray(packed))
    assert.deepEqual(unpackReply(packed), reply)
  }
})

test('drops, failures, mirror input and whole repos go as they are', () => {
  const replies: Reply[] = [
    { id: 1, outcome: { ok: false, reason: 'bad-signature', detail: 'x' } },
    { id: 2, error: 'VerifyWorkerError: gone' },
    accepted(3, Uint8Array.of(1), Uint8Array.of(2), {
      mirror: {
        head: { rev: '3l2xkrd5xsc2a', commitCid: cid, dataCid: cid, commitBlock: raw },
        blocks: new Map(),
      },
    }),
    {
      id: 4,
      outcome: {
        ok: true,
        head: { rev: 'r', commitCid: cid, dataCid: cid, commitBlock: raw },
        tree: new Map(),
        records: 0,
      },
    },
  ]
  for (const r of replies) {
    assert.equal(packReply(r), r)
    assert.equal(unpackReply(r), r)
  }
})

test("a group's accepted frames travel in one transferred buffer of its own", async () => {
  // The frames as an encoder may hand them out: views into one shared pool, which must not be
  // detached by the transfer.
  const pool = Uint8Array.of(10, 11, 12, 13, 14, 15, 16)
  const replies: Reply[] = [
    accepted(1, pool.subarray(0, 2), pool.subarray(2, 3)),
    { id: 2, outcome: { ok: false, reason: 'bad-signature', detail: 'x' } },
    accepted(3, pool.subarray(3, 6), new Uint8Array(0)),
    { id: 4, error: 'VerifyWorkerError: gone' },
  ]
  const { replies: sent, transfer } = postableReplies(replies)
  assert.equal(transfer.length, 1)
  assert.equal(transfer[0]!.byteLength, 6)
  assert.notEqual(transfer[0], pool.buffer)
  // Delivered through a real channel: the receiver gets views into the one buffer, the same bytes.
  const { port1, port2 } = new MessageChannel()
  const received = new Promise<(Reply | AcceptedReply)[]>((resolve) =>
    port2.once('message', resolve),
  )
  port1.postMessage(sent, transfer)
  const got = (await received).map(unpackReply)
  port1.close()
  assert.equal(pool.byteLength, 7, 'the shared pool is not detached')
  assert.deepEqual(got, replies)
  const [first, , third] = got.map((r) =>
    'outcome' in r && 'prefix' in r.outcome ? r.outcome : null,
  )
  assert.equal(first!.prefix.buffer, third!.suffix.buffer)
  assert.deepEqual([first!.prefix.byteOffset, first!.suffix.byteOffset], [0, 2])
  assert.deepEqual([third!.prefix.byteOffset, third!.prefix.length], [3, 3])
})

test('a group with no accepted frame transfers nothing', () => {
  const replies: Reply[] = [
    { id: 1, outcome: { ok: false, reason: 'bad-signature', detail: 'x' } },
    { id: 2, error: 'VerifyWorkerError: gone' },
  ]
  const { replies: sent, transfer } = postableReplies(replies)
  assert.deepEqual(transfer, [])
  assert.deepEqual(sent, replies)
})

test("a turn's event frames go in one buffer of the batch's own; archival frames and CARs alone", () => {
  const task = { didKey: 'did:key:z', previous: null, now: 0, mode: 'strict' } as const
  const a = Uint8Array.of(1, 2, 3)
  const b = Uint8Array.of(4, 5)
  const archival = Uint8Array.of(6)
  const car = Uint8Array.of(7, 8)
  const requests: Request[] = [
    { id: 1, kind: 'event', task: { ...task, frame: a } },
    { id: 2, kind: 'repo', task: { did: 'did:plc:x', car, didKey: 'did:key:z', now: 0 } },
    { id: 3, kind: 'event', task: { ...task, frame: archival, archive: true } },
    { id: 4, kind: 'event', task: { ...task, frame: b } },
  ]
  const { requests: sent, transfer } = postableRequests(requests)
  const frames = sent.map((r) => (r.kind === 'event' ? r.task.frame : r.task.car))
  assert.deepEqual(frames, [a, car, archival, b])
  // The two plain events share the batch's buffer, which is not the callers'.
  assert.equal(frames[0]!.buffer, frames[3]!.buffer)
  assert.deepEqual([frames[3]!.byteOffset, frames[0]!.buffer.byteLength], [3, 5])
  // The archival frame is a copy of its own; the CAR (a whole buffer) is handed over as it is.
  assert.notEqual(frames[2]!.buffer, archival.buffer)
  assert.equal(frames[1], car)
  assert.deepEqual(transfer, [frames[0]!.buffer, car.buffer, frames[2]!.buffer])
  structuredClone(sent, { transfer })
  assert.deepEqual([a.byteLength, b.byteLength, archival.byteLength], [3, 2, 1], 'kept')
  assert.equal(car.byteLength, 0, 'the CAR went over')
})
