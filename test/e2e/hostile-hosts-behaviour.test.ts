// Hostile hosts, by how they behave over time (issue 11): a host that goes silent (no pongs), one
// that is quiet but alive (a control: it must stay connected), one that dribbles a frame for
// ever while answering every ping, one that floods far above its event limits, one that resets
// its sequence, and `describeServer` answers that are huge or never end. The relay runs with
// short upstream timings (ping every second, a frame must finish within 2 s) so each rule
// shows in seconds; the rules are the same at the production defaults (30 s, 60 s). After each
// case an honest host's next commit still reaches a consumer.
// Every test runs twice: with the hosts' links on the relay's main thread, and on a host thread
// beside account shards (docs/scaling.md), where frames are read and judged on that thread.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encodeErrorFrame } from '../../src/protocol/frame.ts'
import { nonCanonicalIdentityFrame } from '../../src/upstream/testing/frames.ts'
import { HOSTILE_TIMINGS, HostileWorld } from '../support/hostile-world.ts'
import { eventually, LINK_LAYOUTS } from '../support/relay-harness.ts'
import { messageFrame, type TestRepo } from '../support/test-repo.ts'

const post = (n: number) => `app.bsky.feed.post/3l${String(n).padStart(11, '0')}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

for (const [mode, flags] of LINK_LAYOUTS) {
  describe(`hostile hosts: behaviour${mode}`, () => {
    let world: HostileWorld
    before(async () => {
      world = await HostileWorld.start({}, [...flags])
    })
    after(async () => {
      await world.close()
    })

    test('a host that stops answering pings is disconnected and retried; a quiet one that answers stays', async () => {
      const mute = await world.hostile((conn) => {
        conn.answerPings = false
      })
      const quiet = await world.hostile(() => {})
      await eventually(() => mute.connections.length >= 2, 10_000, 'the mute host dialled again')
      await mute.connections[0]!.closed
      assert.ok(mute.connections[0]!.pingsReceived >= 1)
      // The quiet host has seen several ping intervals go by on one connection.
      await eventually(
        () => quiet.latest.pingsReceived >= 4,
        10_000,
        'pings answered by the quiet host',
      )
      assert.equal(quiet.connections.length, 1, 'a quiet host that answers pings is left alone')
      assert.ok(quiet.latest.open)
      await world.honestStillFlows()
    })

    test('a frame dribbled for ever, with every ping answered, ends the connection', async () => {
      let timer: ReturnType<typeof setInterval> | undefined
      const dribbler = await world.hostile((conn, pds) => {
        if (pds.connections.length > 1) return
        // A binary message in fragments of 3 bytes, one every 100 ms, never the last one. Pongs go
        // between fragments, as WebSocket allows, so the heartbeat alone would never notice.
        conn.sendFragment(Uint8Array.of(0xa2, 0x62, 0x6f), true, false)
        timer = setInterval(() => conn.sendFragment(Uint8Array.of(1, 2, 3), false, false), 100)
      })
      try {
        await eventually(() => dribbler.connections.length >= 1, 5_000, 'connected')
        const first = dribbler.connections[0]!
        await Promise.race([
          first.closed,
          sleep(20 * HOSTILE_TIMINGS.frameTimeoutMs).then(() => {
            throw new Error('the dribbling connection was never ended')
          }),
        ])
        assert.ok(first.pingsReceived >= 1, 'pings were answered while it dribbled')
        // Ended by the frame rule, not by anything else.
        const id = world.relay.relay.hosts.byHostname(dribbler.hostname)!.id
        await eventually(
          () =>
            /unfinished/.test(world.relay.relay.hosts.describe(id)?.statusInfo?.lastError ?? ''),
          10_000,
          'the stall named as the reason',
        )
      } finally {
        clearInterval(timer)
      }
      await world.honestStillFlows()
    })

    test('a big frame sent in quick fragments is whole in time and relayed (control for the rule above)', async () => {
      let repo: TestRepo | undefined
      const pds = await world.hostile(async (conn, p) => {
        if (p.connections.length > 1) return
        repo ??= await world.account(p)
        const frame = messageFrame(
          await repo.commit([{ action: 'create', path: post(1) }], { seq: 1 }),
        )
        for (let at = 0; at < frame.length; at += 16) {
          const end = Math.min(at + 16, frame.length)
          conn.sendFragment(frame.subarray(at, end), at === 0, end === frame.length)
          await sleep(1)
        }
      })
      await eventually(
        () => repo !== undefined && world.revsOf(repo.did).length === 1,
        20_000,
        'the fragmented commit',
      )
      assert.equal(pds.connections.length, 1)
    })

    test('a flood far above its limit is held back, not dropped, and other hosts keep flowing', async () => {
      // 300 commits at 10 events a second would take 30 s, far longer than the honest commit below.
      const count = 300
      let repo: TestRepo | undefined
      const flood = await world.flooding(10, async (pds) => {
        repo = await world.account(pds)
        const frames: Uint8Array[] = []
        for (let i = 1; i <= count; i++) {
          const msg = await repo.commit([{ action: 'create', path: post(i) }], { seq: i })
          frames.push(messageFrame(msg))
        }
        return frames
      })
      const did = repo!.did
      await world.honestStillFlows('honest commit during the flood')
      assert.ok(world.revsOf(did).length < count, 'the flood is still being held back')
      // Lift the limit: every event of the flood arrives, once and in order; none was dropped.
      await world.admin('/admin/pds/changeLimits', { host: flood.hostname, per_second: 100_000 })
      await eventually(
        () => world.revsOf(did).length === count,
        60_000,
        `all ${count} flood events`,
      )
      const revs = world.revsOf(did)
      assert.equal(new Set(revs).size, count)
      assert.deepEqual([...revs].sort(), revs)
      assert.equal(await world.drops(flood, 'seq-not-increasing'), 0)
    })

    test('a flood of frames that are dropped counts against the limit too', async () => {
      const flood = await world.flooding(10, () =>
        Array.from({ length: 300 }, (_, i) => nonCanonicalIdentityFrame(i + 1)),
      )
      await world.honestStillFlows('honest commit during the flood of bad frames')
      assert.ok(
        (await world.drops(flood, 'non-canonical-cbor')) < 300,
        'the bad frames are read at the host’s rate, not at wire speed',
      )
    })

    test('a host that resets its sequence: FutureCursor, the cursor is reset, new events flow', async () => {
      let repo: TestRepo | undefined
      const resetsBefore = await world.value('relay_upstream_cursor_resets_total')
      const pds = await world.hostile(async (conn, p) => {
        repo ??= await world.account(p)
        if (p.connections.length === 1) {
          for (let seq = 1; seq <= 3; seq++) {
            conn.send(
              messageFrame(await repo.commit([{ action: 'create', path: post(seq) }], { seq })),
            )
          }
          await sleep(300)
          conn.destroy() // it went away, and comes back with its sequence started again
          return
        }
        if (conn.cursor !== null) {
          // Its newest seq is now 0: any cursor is in its future.
          conn.send(encodeErrorFrame('FutureCursor', 'Cursor in the future.'))
          conn.destroy()
          return
        }
        conn.send(
          messageFrame(await repo.commit([{ action: 'create', path: post(10) }], { seq: 1 })),
        )
      })
      await eventually(
        () => repo !== undefined && world.revsOf(repo.did).length === 3,
        20_000,
        'the first 3 commits',
      )
      await eventually(
        async () => (await world.value('relay_upstream_cursor_resets_total')) > resetsBefore,
        20_000,
        'the cursor reset',
      )
      assert.ok(
        pds.connections.some((c) => c.cursor === '3'),
        'it asked from seq 3 first',
      )
      // The host's status may rest at idle after FutureCursor; a crawl request brings it back.
      await world.relay.crawl(pds.hostname)
      await eventually(
        () => world.revsOf(repo!.did).length === 4,
        20_000,
        'the commit after the reset',
      )
      await world.honestStillFlows()
    })

    test('describeServer answers that are huge or never end are refused by size; nothing is added', async () => {
      const rssBefore = process.memoryUsage().rss
      for (const mode of ['huge', 'endless'] as const) {
        const pds = await world.hostile(() => {}, { crawl: false })
        pds.describe = mode
        const res = await world.relay.crawl(pds.hostname)
        const body = (await res.json()) as { error: string; message: string }
        assert.equal(res.status, 400, mode)
        assert.equal(body.error, 'InvalidRequest')
        assert.match(body.message, /over \d+ bytes/, mode)
        assert.equal(pds.connections.length, 0, `${mode}: never subscribed`)
        const list = await fetch(`${world.relay.url}/xrpc/com.atproto.sync.listHosts?limit=1000`)
        const hosts = ((await list.json()) as { hosts: { hostname: string }[] }).hosts
        assert.ok(!hosts.some((h) => h.hostname === pds.hostname), `${mode}: not listed`)
      }
      const grown = (process.memoryUsage().rss - rssBefore) / 1024 / 1024
      assert.ok(grown < 200, `RSS grew ${grown.toFixed(0)} MiB`)
      await world.honestStillFlows()
    })
  })
}
