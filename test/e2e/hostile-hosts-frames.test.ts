// Hostile hosts, frame by frame (issue 11): a PDS that sends what no PDS should (garbage bytes,
// truncated frames, non-canonical CBOR, junk bodies under valid headers, unknown types, error
// frames, wrong CAR roots, duplicate and regressing seqs, commits for accounts it does not host,
// frames of 5 MB and 50 MB). Each fault has one expected outcome, from the firehose rules the
// relay follows: a frame that does not decode at all ends the connection (it cannot be skipped:
// its seq is unknown) and is retried; a frame that decodes but breaks a rule is dropped with its
// named reason and the stream goes on; a frame over the 5,000,000-byte cap ends the connection
// before it is buffered. Every drop is counted per host in /metrics, and after every fault an
// honest host's next commit still reaches a consumer.
// Every test runs twice: with the hosts' links on the relay's main thread, and on a host thread
// beside account shards (docs/scaling.md), where frames are read and judged on that thread.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encode } from '@atcute/cbor'
import { encodeCarSlice, readCarSlice } from '../../src/protocol/car.ts'
import { concat, encodeErrorFrame, encodeMessageFrame } from '../../src/protocol/frame.ts'
import { MAX_FRAME_BYTES } from '../../src/protocol/limits.ts'
import { nonCanonicalIdentityFrame } from '../../src/upstream/testing/frames.ts'
import { frameHeader } from '../support/hostile-pds.ts'
import { HostileWorld } from '../support/hostile-world.ts'
import { eventually, LINK_LAYOUTS, MAIN_THREAD_VERIFY } from '../support/relay-harness.ts'
import { messageBody, messageFrame, type TestRepo } from '../support/test-repo.ts'

const post = (n: number) => `app.bsky.feed.post/3l${String(n).padStart(11, '0')}`

for (const [mode, flags] of [...LINK_LAYOUTS, MAIN_THREAD_VERIFY]) {
  describe(`hostile hosts: frames${mode}`, () => {
    let world: HostileWorld
    before(async () => {
      world = await HostileWorld.start({}, [...flags])
    })
    after(async () => {
      await world.close()
    })

    const commitFrame = async (repo: TestRepo, seq: number): Promise<Uint8Array> =>
      messageFrame(await repo.commit([{ action: 'create', path: post(seq) }], { seq }))

    test('frames that do not decode end the connection, which is retried; each is counted', async () => {
      // Garbage (text that CBOR reads as a string running past the end); 0xff bytes; a real frame
      // cut short; a valid header followed by bytes that are not CBOR. (Random bytes are not used:
      // some random byte strings do decode leniently as two CBOR items, and are then dropped as
      // non-canonical without closing, which is the next test's outcome, not this one's.)
      const header = encode({ op: 1, t: '#commit' })
      const faults = [
        new TextEncoder().encode('this is not cbor at all, it is a sentence'),
        Uint8Array.of(0xff, 0xff, 0xff),
        encodeMessageFrame('#identity', {
          seq: 1,
          did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz',
          time: '2024-05-01T12:00:00.000Z',
        }).subarray(0, 20),
        concat(header, Uint8Array.of(0x1c, 0x1d, 0x1e, 0xff, 0x00)),
      ]
      for (const [i, bytes] of faults.entries()) {
        const pds = await world.hostile((conn, pds) => {
          if (pds.connections.length <= 2) conn.send(bytes)
        })
        await world.dropped(pds, 'undecodable-frame', 1)
        // The relay ended that connection and dialled again (the retry is the host's second chance).
        await eventually(() => pds.connections.length >= 2, 10_000, `fault ${i}: reconnect`)
        await pds.connections[0]!.closed
        await world.honestStillFlows(`honest commit after fault ${i}`)
      }
    })

    test('frames that decode but break a rule are dropped by name; the stream goes on', async () => {
      let repo: TestRepo | undefined
      const pds = await world.hostile(async (conn, pds) => {
        if (pds.connections.length > 1) return
        repo ??= await world.account(pds)
        // non-canonical CBOR (map keys out of order)
        conn.send(nonCanonicalIdentityFrame(1))
        // a type no Lexicon defines
        conn.send(encodeMessageFrame('#surprise', { seq: 2, anything: 'goes' }))
        // a #commit header over a body that is not a commit
        conn.send(encodeMessageFrame('#commit', { seq: 3, repo: 42, ops: 'none' }))
        // a commit whose envelope (seq, repo, rev) is sound but whose ops are not: the main thread
        // reads only the envelope, so the verify worker is where this one is dropped
        const body = messageBody(
          await repo.commit([{ action: 'create', path: post(4) }], { seq: 4 }),
        )
        conn.send(encodeMessageFrame('#commit', { ...body, ops: 'none' }))
        // a valid commit last: it arrives, so the stream did go on past the faults
        conn.send(await commitFrame(repo, 5))
      })
      await world.dropped(pds, 'non-canonical-cbor')
      await world.dropped(pds, 'unknown-type')
      await world.dropped(pds, 'invalid-message', 2)
      await eventually(
        () => repo !== undefined && world.revsOf(repo.did).length === 1,
        20_000,
        'the valid commit after the faults',
      )
      assert.equal(pds.connections.length, 1, 'no reconnect: these frames are skipped, not fatal')
      assert.ok(pds.latest.open)
      await world.honestStillFlows()
    })

    test('an error frame ends the connection and is retried', async () => {
      const pds = await world.hostile((conn, pds) => {
        if (pds.connections.length === 1) conn.send(encodeErrorFrame('InternalError', 'oops'))
      })
      await eventually(() => pds.connections.length >= 2, 10_000, 'reconnect after the error frame')
      await pds.connections[0]!.closed
      await world.honestStillFlows()
    })

    test('duplicate and regressing seqs are dropped as seq-not-increasing; the rest arrive once, in order', async () => {
      let repo: TestRepo | undefined
      const pds = await world.hostile(async (conn, pds) => {
        if (pds.connections.length > 1) return
        repo ??= await world.account(pds)
        const one = await commitFrame(repo, 1)
        const two = await commitFrame(repo, 2)
        const three = await commitFrame(repo, 3)
        for (const f of [one, two, two, one, three]) conn.send(f)
      })
      await world.dropped(pds, 'seq-not-increasing', 2)
      await eventually(
        () => repo !== undefined && world.revsOf(repo.did).length >= 3,
        20_000,
        '3 commits',
      )
      const revs = world.revsOf(repo!.did)
      assert.equal(revs.length, 3)
      assert.deepEqual([...revs].sort(), revs, 'in order')
      await world.honestStillFlows()
    })

    test('a commit whose CAR names another root is dropped; a commit for an account hosted elsewhere is wrong-host', async () => {
      let repo: TestRepo | undefined
      const pds = await world.hostile(async (conn, pds) => {
        if (pds.connections.length > 1) return
        repo ??= await world.account(pds)
        const msg = await repo.commit([{ action: 'create', path: post(1) }], { seq: 1 })
        const car = readCarSlice(msg.blocks)
        // The same blocks under a root that is one of them but not the commit.
        const other = [...car.blocks.keys()].find((cid) => cid !== car.roots[0])!
        const body = messageBody({ ...msg, blocks: encodeCarSlice([other], car.blocks) })
        conn.send(encodeMessageFrame('#commit', body))
        // An account whose DID document names the honest PDS, sent from this one.
        const stranger = await world.account(world.honest)
        conn.send(await commitFrame(stranger, 2))
      })
      await eventually(
        async () =>
          (await world.drops(pds, 'bad-car')) +
            (await world.drops(pds, 'bad-commit')) +
            (await world.drops(pds, 'commit-mismatch')) >=
          1,
        20_000,
        'the wrong-root commit dropped',
      )
      await world.dropped(pds, 'wrong-host')
      assert.equal(world.revsOf(repo!.did).length, 0, 'nothing of it was relayed')
      assert.equal(pds.connections.length, 1)
      await world.honestStillFlows()
    })

    test('frames over 5,000,000 bytes end the connection before they are buffered (5 MB and 50 MB)', async () => {
      assert.ok(MAX_FRAME_BYTES < 5 * 1024 * 1024)
      for (const size of [5 * 1024 * 1024, 50 * 1024 * 1024]) {
        let sent = 0
        const pds = await world.hostile(async (conn, p) => {
          if (p.connections.length > 1) return
          // The header says `size`, with a first piece of the body; the rest follows in 64 KiB
          // pieces until the relay hangs up. A relay that judges the frame by its header hangs up
          // now, so the rest waits for that (up to 2 s). Without the wait the count measured
          // only how far this loop ran ahead of a relay reading on another thread (host
          // threads), since writes here never wait for the socket.
          conn.write(frameHeader(0x2, true, size))
          const piece = Buffer.alloc(64 * 1024, 0xa5)
          conn.write(piece)
          sent += piece.length
          await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 2_000))])
          while (conn.open && sent < size) {
            conn.write(piece)
            sent += piece.length
            await new Promise((r) => setImmediate(r))
          }
        })
        await world.dropped(pds, 'frame-too-large')
        await pds.connections[0]!.closed
        // The relay refused the frame from its header: it hung up long before the body was sent.
        assert.ok(sent < size / 2, `${sent} of ${size} bytes sent before the relay hung up`)
        await world.honestStillFlows(`honest commit after a ${size}-byte frame`)
      }
    })

    test('a frame just under the cap with 4.9 MB of blocks is dropped as blocks-too-large, not fatal', async () => {
      let repo: TestRepo | undefined
      const pds = await world.hostile(async (conn, pds) => {
        if (pds.connections.length > 1) return
        repo ??= await world.account(pds)
        const msg = await repo.commit([{ action: 'create', path: post(1) }], { seq: 1 })
        const body = messageBody({ ...msg, blocks: new Uint8Array(4_900_000) })
        conn.send(encodeMessageFrame('#commit', body))
        conn.send(await commitFrame(repo, 2))
      })
      await world.dropped(pds, 'blocks-too-large')
      await eventually(() => world.revsOf(repo?.did ?? '').length === 1, 20_000, 'the next commit')
      assert.equal(pds.connections.length, 1)
      await world.honestStillFlows()
    })
  })
}
