// Per-event cost of the upstream layer: the seq window under out-of-order completion, frame
// classification (decode + parse of a small event; a commit's envelope, against its full parse),
// and frames through a real loopback socket
// into a HostConnection (fake PDS in the same process, so both ends share the one core).
import { measure, measureAsync, note } from '../../bench/harness.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { parseMessage } from '../protocol/messages.ts'
import { readFrame } from './frame-outcome.ts'
import { HostConnection } from './host-connection.ts'
import { SeqWindow } from './seq-window.ts'
import { FakePds } from './testing/fake-pds.ts'
import { identityFrame } from './testing/frames.ts'
import { Recorder } from './testing/recorder.ts'

// Seq window: 1,000 in flight, each completion picks a pseudo-random one of the oldest 64.
{
  const w = new SeqWindow(0)
  const inFlight: number[] = []
  let seq = 0
  let r = 7
  for (let i = 0; i < 1_000; i++) {
    w.deliver(++seq)
    inFlight.push(seq)
  }
  measure('SeqWindow deliver + complete (1,000 in flight)', () => {
    r = (r * 1103515245 + 12345) % 2 ** 31
    const [done] = inFlight.splice(r % Math.min(64, inFlight.length), 1)
    w.complete(done ?? 0)
    w.deliver(++seq)
    inFlight.push(seq)
  })
}

const frame = identityFrame(123_456_789)
note(`#identity frame: ${frame.length} bytes`)
measure('readFrame (#identity)', () => readFrame(frame))

// A commit of one new post in a repo of 300 records, as the main thread reads it (its envelope)
// and as it read it before the worker took over the body (decode + parse of the whole frame).
{
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  const post = (i: number) => ({
    action: 'create' as const,
    path: `app.bsky.feed.post/3l${String(i).padStart(11, '0')}`,
    record: {
      $type: 'app.bsky.feed.post',
      text: 'a post '.repeat(30),
      createdAt: new Date().toISOString(),
    },
  })
  for (let i = 0; i < 300; i += 50)
    await repo.commit(Array.from({ length: 50 }, (_, j) => post(i + j)))
  const commit = messageFrame(await repo.commit([post(300)]))
  note(`#commit frame: ${commit.length} bytes`)
  measure('readFrame (#commit: the envelope)', () => readFrame(commit))
  measure('  the whole frame decoded and parsed', () => {
    const f = decodeFrame(commit)
    if (f.op === 1) parseMessage(f)
  })
}

// Loopback: batches of 1,000 frames sent by the fake PDS, completed as they arrive.
{
  const pds = await FakePds.start()
  const rec = new Recorder()
  const conn = new HostConnection({
    host: { id: 1, hostname: pds.hostname, ssl: false },
    startCursor: 0,
    userAgent: 'bench',
    handlers: rec,
  })
  let target = 0
  let reached = (): void => {}
  rec.onEventHook = (msg) => {
    rec.log.length = 0
    conn.complete(msg.seq)
    if (msg.seq === target) reached()
  }
  conn.start()
  const sub = await pds.next()
  let seq = 0
  const batch = 1_000
  await measureAsync(
    'loopback frames -> onEvent (1,000 per batch, both ends)',
    async () => {
      target = seq + batch
      const frames: Uint8Array[] = []
      for (let i = 0; i < batch; i++) frames.push(identityFrame(++seq))
      const delivered = new Promise<void>((resolve) => {
        reached = resolve
      })
      for (const f of frames) sub.socket.send(f)
      await delivered
    },
    { opsPerCall: batch, minMs: 1_000 },
  )
  await conn.stop()
  await pds.close()
}
