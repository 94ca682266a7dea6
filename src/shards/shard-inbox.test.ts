// The order a shard takes its messages in (shard-inbox.ts), with the channels as queues the test
// fills and delivers by hand, so each interleaving the threads could produce is played exactly:
// a call runs after the host threads' events already posted; a batch of an unknown host takes
// the main thread's view first; calls keep their order even when one of them meets such a batch
// while taking the host threads' events; and nothing runs in the middle of a batch.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { ShardInbox } from './shard-inbox.ts'
import type { HostEvents, ShardCall, ToShard } from './shard-messages.ts'

const event = (hostId: number, seq: number): HostEvents['events'][number] => [
  hostId,
  { type: '#identity', seq, did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' } as unknown as UpstreamEvent,
  new Uint8Array(1),
]
const batch = (hostId: number, ...seqs: number[]): HostEvents => ({
  events: seqs.map((s) => event(hostId, s)),
})
const call = (id: number): ShardCall => ({ call: id, method: 'idle', args: [] })
const view = (hostId: number): ToShard => ({
  events: [],
  views: [{ id: hostId, hostname: `h${hostId}`, banned: false, sync: {} as never }],
})

function rig(known: number[]) {
  const main: ToShard[] = []
  const hosts: HostEvents[][] = [[], []]
  const seen: string[] = []
  const knownHosts = new Set(known)
  const inbox = new ShardInbox({
    main: { take: () => main.shift() },
    hosts: hosts.map((q) => ({ take: () => q.shift() })),
    knowsHost: (id) => knownHosts.has(id),
    receive: (b) => {
      if ('views' in b && b.views) for (const v of b.views) knownHosts.add(v.id)
      if ('views' in b && b.views?.length) seen.push(`view ${b.views.map((v) => v.id).join()}`)
      for (const [hostId, msg] of b.events) seen.push(`event ${hostId}:${msg.seq}`)
    },
    call: (c) => seen.push(`call ${c.call}`),
    close: () => seen.push('close'),
  })
  return { main, hosts, seen, inbox }
}

describe('shard inbox', () => {
  it("a call runs after the host threads' events posted before it", () => {
    const { hosts, seen, inbox } = rig([1, 2])
    hosts[0]!.push(batch(1, 1, 2))
    hosts[1]!.push(batch(2, 7))
    inbox.fromMain(call(1))
    assert.deepEqual(seen, ['event 1:1', 'event 1:2', 'event 2:7', 'call 1'])
  })

  it("a batch of a host without a view takes the main thread's messages first; its calls wait", () => {
    const { main, seen, inbox } = rig([])
    main.push(view(5), call(1), view(6))
    inbox.fromHosts(batch(5, 1))
    assert.deepEqual(seen, ['view 5', 'view 6', 'event 5:1', 'call 1'])
  })

  it('calls keep their order when one meets a batch of an unknown host', () => {
    // Call 1 takes the host threads' events; among them a batch of host 9, whose view is on
    // the main channel behind call 2: the view comes first, then the batch, then 1, then 2.
    const { main, hosts, seen, inbox } = rig([1])
    hosts[0]!.push(batch(1, 1), batch(9, 2))
    main.push(view(9), call(2))
    inbox.fromMain(call(1))
    assert.deepEqual(seen, ['event 1:1', 'view 9', 'event 9:2', 'call 1', 'call 2'])
  })

  it('a host batch delivered in the middle of nothing runs whole before the calls it let in', () => {
    const { main, hosts, seen, inbox } = rig([4])
    main.push(view(3), call(1))
    hosts[1]!.push(batch(4, 9)) // posted later, known: taken by call 1, after batch 3:1
    inbox.fromHosts(batch(3, 1))
    assert.deepEqual(seen, ['view 3', 'event 3:1', 'event 4:9', 'call 1'])
  })

  it('the end, when asked for, is handed on', () => {
    const { seen, inbox } = rig([])
    inbox.fromMain({ close: true })
    assert.deepEqual(seen, ['close'])
  })
})
