// Per-event cost of the upstream layer: the seq window under out-of-order completion, frame
// classification (decode + parse of a small event), and frames through a real loopback socket
// into a HostConnection (fake PDS in the same process, so both ends share the one core).
import { measure, measureAsync, note } from '../../bench/harness.ts'
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
