// The load generator (`npm run loadgen`, bench/loadgen/) in a few seconds, so it cannot rot: a
// tiny workload generated into a temporary cache, sent through a real relay process to three
// consumers. Checked: every event reaches every consumer once and in order, latencies and CPU
// figures are measured, a shorter run reuses the cached workload's first events, and with the
// hosts serving repos a relay in archival mode is filled by a resync of each host and then
// applies every commit to its mirror; with `onlyShard`, only one account shard's events go out.
// A sweep through the command line runs its rates in turn, stops at the first run that does not
// hold, and ends with its summary. Speed is never asserted here (BENCHMARKS.md): the sweep is
// held to a p99 limit no run can miss, then to one no run can meet. A comparison of this
// checkout against itself runs its pairs in alternating order and ends with the difference.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { BytesWrapper } from '@atcute/cbor'
import { eventIndex, scanFrame } from '../../bench/loadgen/frame-scan.ts'
import { type LoadgenOptions, runLoadgen } from '../../bench/loadgen/run.ts'
import { eventsHolding, shardEvents } from '../../bench/loadgen/workload.ts'
import { encodeErrorFrame, encodeMessageFrame } from '../../src/protocol/frame.ts'
import { createTid } from '../../src/protocol/syntax/tid.ts'

const execFileAsync = promisify(execFile)
const LOADGEN = fileURLToPath(new URL('../../bench/loadgen.ts', import.meta.url))

/** Options that do not go together are refused before anything starts: exit 2, and why. */
async function refused(args: readonly string[]): Promise<void> {
  await assert.rejects(
    execFileAsync(process.execPath, [LOADGEN, ...args]),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2, `${args.join(' ')}: ${err.stderr}`)
      assert.match(err.stderr, /^loadgen: /, args.join(' '))
      return true
    },
  )
}

describe('loadgen', () => {
  test("the frame scanner reads op, type, seq and the rev's timestamp, skipping everything else", () => {
    const rev = createTid(1_700_000_000_000_123, 0)
    const frame = encodeMessageFrame('#commit', {
      blocks: new BytesWrapper(new Uint8Array(70_000)),
      ops: [{ action: 'create', path: 'a/b', cid: null }],
      repo: 'did:plc:x',
      rev,
      seq: 4_294_967_301,
      nested: { deep: [1, -2, 'x', true, null, 1.5] },
    })
    const revMicros = 1_700_000_000_000_123
    assert.deepEqual(scanFrame(frame), { op: 1, type: '#commit', seq: 4_294_967_301, revMicros })
    assert.equal(eventIndex(revMicros, 1_700_000_000_000_000), 123)
    // Not a TID: a wrong length, a first character past 'j', a character outside the alphabet.
    for (const bad of ['not a tid', `k${rev.slice(1)}`, `${rev.slice(0, 12)}1`]) {
      const other = encodeMessageFrame('#commit', { rev: bad, seq: 7 })
      assert.deepEqual(scanFrame(other), { op: 1, type: '#commit', seq: 7, revMicros: -1 })
    }
    assert.equal(eventIndex(-1, 0), -1)
    const identity = encodeMessageFrame('#identity', { did: 'did:plc:x', seq: 8 })
    assert.deepEqual(scanFrame(identity), {
      op: 1,
      type: '#identity',
      seq: 8,
      revMicros: undefined,
    })
    assert.equal(scanFrame(encodeErrorFrame('FutureCursor', 'no'))?.op, -1)
    assert.equal(scanFrame(frame.subarray(0, 40)), null)
    // A byte string longer than what is left is a truncated frame, not a read past the end.
    assert.equal(scanFrame(frame.subarray(0, 1_000)), null)
  })

  test('a short run through a real relay: everything delivered once, latencies measured', {
    timeout: 120_000,
  }, async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'loadgen-smoke-'))
    const lines: string[] = []
    const run = (
      seconds: number,
      slowConsumers = 0,
      archive = false,
      flags: string[] = [],
      extra: Partial<LoadgenOptions> = {},
    ) =>
      runLoadgen({
        rate: 150,
        seconds,
        warmupSeconds: 2,
        hosts: 2,
        accounts: 20,
        records: 20,
        consumers: 3,
        seed: 7,
        cacheDir,
        relay: {
          kind: 'local',
          flags: [...flags, ...(archive ? ['--archive'] : [])],
          env: {},
          nodeFlags: [],
        },
        drainSeconds: 20,
        slowConsumers,
        slowSeconds: 1,
        serveRepos: archive,
        log: (line) => lines.push(line),
        ...extra,
      })
    try {
      const r = await run(3, 4)
      const log = `${JSON.stringify(r)}\n${lines.join('\n')}`
      assert.equal(r.eventsSent, 750, log)
      assert.equal(r.eventsAccepted, 750, log)
      assert.equal(r.complete, true, log)
      assert.equal(r.gaps, 0, log)
      assert.equal(r.duplicates, 0, log)
      assert.equal(r.unreadable, 0, log)
      assert.equal(r.consumersClosed, 0, log)
      const latency = r.latencyMs as { samples: number; missing: number; p50: number; p99: number }
      assert.equal(latency.missing, 0, log)
      // Three consumers, each timing the ~450 commits sent inside the 3 s window.
      assert.ok(latency.samples > 3 * 400, log)
      assert.ok(latency.p50 > 0 && latency.p99 >= latency.p50, log)
      assert.ok((r.cpuCores as number) > 0, log)
      assert.ok((r.cpuByThread as Record<string, number>).main! > 0, log)
      assert.ok((r.peakRssMB as number) > 0, log)
      assert.ok((r.commitBytes as number) > 500, log)
      // Four subscribers that never read came and went during the window, each from its own
      // address; the three measuring consumers above still got everything.
      const slow = r.slowConsumers as Record<string, number>
      assert.equal(slow.connected, 4, log)
      assert.equal(typeof slow.cutByRelay, 'number', log)
      assert.ok(slow.rssBeforeMB! > 0 && slow.rssPeakMB! > 0, log)
      assert.ok(slow.leftAtSecond! > slow.connectedAtSecond!, log)
      assert.ok(slow.rssAtWindowEndMB! > 0, log)
      // Live RSS (after forced full collections through the relay's inspector) was read before,
      // during and after the burst.
      for (const k of ['liveRssBeforeMB', 'liveRssWithMB', 'liveRssAfterMB'])
        assert.ok(slow[k]! > 0, `${k}: ${log}`)
      assert.ok(
        lines.some((l) => l.includes('generated')),
        log,
      )
      // A shorter run sends the first events of the cached workload instead of generating one;
      // this one with the upstream sockets on a thread of their own, which does the reading.
      lines.length = 0
      const again = await run(2, 0, false, ['--upstream-threads=1'])
      assert.equal(again.complete, true, JSON.stringify(again))
      assert.equal(again.eventsAccepted, 600, JSON.stringify(again))
      assert.equal(again.gaps, 0, JSON.stringify(again))
      assert.equal(again.duplicates, 0, JSON.stringify(again))
      assert.ok((again.cpuByThread as Record<string, number>).upstream! > 0, JSON.stringify(again))
      assert.equal(again.eventsSent, 600)
      assert.ok(
        lines.some((l) => l.includes('the first 600 events')),
        lines.join('\n'),
      )
      assert.ok(!lines.some((l) => l.includes('generating')), lines.join('\n'))
      assert.equal(again.mirror, undefined, 'no mirror figures without one')

      // Archival mode with the hosts serving listRepos and getRepo: the relay first resyncs
      // every host (each account's starting repo into the mirror), then the mirror applies every
      // commit with no repair needed, and every event reaches every consumer once and in order.
      lines.length = 0
      const archival = await run(2, 0, true)
      const alog = `${JSON.stringify(archival)}\n${lines.join('\n')}`
      assert.ok(
        lines.some((l) => l.includes('starting repos made')),
        alog,
      )
      assert.deepEqual(
        { ...(archival.mirrorSeed as object), seconds: 0 },
        { repos: 20, failed: 0, seconds: 0 },
        alog,
      )
      assert.equal(archival.complete, true, alog)
      const mirror = archival.mirror as {
        commits: Record<string, number>
        reposImported: number
        repairs: Record<string, number>
      }
      assert.equal(mirror.reposImported, 20, alog)
      assert.equal(mirror.commits.missing, 0, alog)
      assert.equal(mirror.repairs.repaired ?? 0, 0, alog)
      assert.ok(mirror.commits.applied! > 300, alog)

      // Every event on one of two account shards: only the events of the accounts the relay's
      // hash gives to shard 0 go out, 100/s × 3 s of them, each with the seq its frame carries
      // (so the hosts' seqs have gaps); every one is delivered, and the relay's own count says
      // it handed all of them to shard 0.
      lines.length = 0
      const onOne = await run(1, 0, false, ['--account-shards=2'], {
        rate: 100,
        onlyShard: { index: 0, count: 2 },
      })
      const olog = `${JSON.stringify(onOne)}\n${lines.join('\n')}`
      const params = { hosts: 2, accounts: 20, seed: 7, records: 20, events: 0 }
      const events = eventsHolding(params, 300, { index: 0, count: 2 }, 1200)
      const { kept } = shardEvents(params, events, { index: 0, count: 2 })
      assert.ok(events > 300 && events < 1200, `${events} events hold 300 of shard 0's`)
      assert.equal(
        kept.reduce((n, k) => n + k, 0),
        300,
      )
      assert.equal(onOne.eventsSent, 300, olog)
      assert.equal(onOne.eventsAccepted, 300, olog)
      assert.equal(onOne.complete, true, olog)
      assert.equal(onOne.onlyShard, '0/2', olog)
      assert.equal(typeof onOne.shardLoans, 'number', olog)
      // The relay routed every one of them to shard 0.
      assert.deepEqual(onOne.shardEvents, { '0': 300, '1': 0 }, olog)
    } finally {
      await rm(cacheDir, { recursive: true, force: true })
    }
  })

  test('a sweep runs rising rates, stops at the first that does not hold, and says why', {
    timeout: 180_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loadgen-sweep-'))
    const results = join(dir, 'results.jsonl')
    const sweep = async (p99Limit: string) => {
      const r = await execFileAsync(
        process.execPath,
        [
          LOADGEN,
          ...['--sweep', '40,80', '--p99-limit', p99Limit, '--seconds', '3', '--warmup', '1'],
          ...['--hosts', '2', '--accounts', '20', '--records', '20', '--seed', '7'],
          ...['--consumers', '2', '--drain-seconds', '20'],
          ...['--cache', join(dir, 'cache'), '--results', results],
        ],
        { maxBuffer: 16 << 20 },
      )
      const lines = r.stdout.trim().split('\n')
      return { lines: lines.map((l) => JSON.parse(l)), log: `${r.stdout}\n${r.stderr}` }
    }
    try {
      // A limit no run can miss: both rates run, each its own line, and the edge is the higher.
      const held = await sweep('60000')
      assert.equal(held.lines.length, 3, held.log)
      assert.deepEqual(
        held.lines.slice(0, 2).map((l) => [l.rate, l.complete]),
        [
          [40, true],
          [80, true],
        ],
        held.log,
      )
      const summary = held.lines[2].sweep
      assert.equal(summary.edge, 80, held.log)
      assert.equal(summary.firstFailed, null, held.log)
      assert.equal(summary.p99LimitMs, 60000)
      assert.deepEqual(
        summary.runs.map((r: { rate: number; held: boolean }) => [r.rate, r.held]),
        [
          [40, true],
          [80, true],
        ],
      )
      assert.ok(summary.cores >= 1)
      assert.deepEqual(summary.rates, [40, 80])
      assert.equal(summary.seconds, 3)
      assert.equal(summary.repeat, 1)
      // The workload was made once, for the highest rate; each run sent its first events.
      assert.equal(held.log.match(/workload: generating/g)?.length, 1, held.log)
      assert.match(held.log, /generating 320 events/, held.log)
      // A limit no run can meet: the sweep stops after the first run, holds nothing, and says
      // what the run was short of and what limited it.
      const failed = await sweep('0.001')
      assert.equal(failed.lines.length, 2, failed.log)
      const short = failed.lines[1].sweep
      assert.equal(short.edge, null, failed.log)
      assert.equal(short.runs.length, 1, failed.log)
      assert.equal(short.firstFailed.rate, 40, failed.log)
      assert.match(short.firstFailed.why, /^p99 [\d.]+ ms over 0\.001 ms$/, failed.log)
      assert.match(
        short.firstFailed.limit,
        /^(CPU: |the relay's main thread|queueing with cores to spare)/,
        failed.log,
      )
      // Every line, the summaries too, went to the results file.
      const recorded = (await readFile(results, 'utf8')).trim().split('\n')
      assert.equal(recorded.length, 5)
      assert.deepEqual(JSON.parse(recorded[4]!).sweep, short)
      // Options that do not go together are refused before anything starts.
      for (const args of [
        ['--sweep', '40,80', '--relay-url', 'http://127.0.0.1:9'],
        ['--sweep', '40,80', '--rate', '40'],
        ['--sweep', '40,80', '--repeat', '1.5'],
        ['--sweep', '1:99999999999999999999:1'],
        ['--repeat', '2'],
        ['--every-rate'],
      ])
        await refused(args)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('a comparison alternates two builds in pairs and gives the paired difference', {
    timeout: 240_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loadgen-compare-'))
    const root = fileURLToPath(new URL('../../', import.meta.url))
    // B: a checkout whose entry notes each start, then runs this checkout's relay; A, this one.
    const other = join(dir, 'other')
    const starts = join(dir, 'b-starts')
    await mkdir(join(other, 'src'), { recursive: true })
    await symlink(join(root, 'node_modules'), join(other, 'node_modules'))
    await writeFile(
      join(other, 'src', 'main.ts'),
      `import { appendFileSync } from 'node:fs'\n` +
        `appendFileSync(${JSON.stringify(starts)}, 'b\\n')\n` +
        `await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'main.ts')).href)})\n`,
    )
    try {
      const r = await execFileAsync(
        process.execPath,
        [
          LOADGEN,
          ...['--compare', other, '--pairs', '2', '--rate', '40', '--p99-limit', '60000'],
          ...['--seconds', '3', '--warmup', '1', '--hosts', '2', '--accounts', '20'],
          ...['--records', '20', '--seed', '7', '--consumers', '2', '--drain-seconds', '20'],
          ...['--cache', join(dir, 'cache'), '--results', join(dir, 'results.jsonl')],
        ],
        { maxBuffer: 16 << 20 },
      )
      const log = `${r.stdout}\n${r.stderr}`
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      assert.equal(lines.length, 5, log)
      // A B, then B A: each run's own line says which build it measured, in which pair.
      assert.deepEqual(
        lines.slice(0, 4).map((l) => [l.compare, l.pair, l.complete]),
        [
          ['a', 0, true],
          ['b', 0, true],
          ['b', 1, true],
          ['a', 1, true],
        ],
        log,
      )
      // B's runs, and only they, started from the other checkout.
      assert.equal(await readFile(starts, 'utf8'), 'b\nb\n')
      const summary = lines[4].compare
      assert.equal(summary.b, other, log)
      assert.equal(summary.a, root.replace(/\/$/, ''), log)
      assert.equal(summary.rate, 40)
      assert.equal(summary.pairs, 2)
      assert.deepEqual(summary.held, { a: 2, b: 2, of: 2 }, log)
      const d = summary.relayUsPerEvent
      assert.equal(d.pairs, 2, log)
      assert.ok(d.lowPct <= d.meanPct && d.meanPct <= d.highPct, JSON.stringify(d))
      for (const args of [
        ['--compare', root, '--sweep', '40,80'],
        ['--compare', root, '--relay-url', 'http://127.0.0.1:9'],
        ['--compare', join(dir, 'no-such-checkout')],
        ['--compare', root, '--pairs', '1.5'],
        ['--pairs', '2'],
        ['--p99-limit', '100'],
      ])
        await refused(args)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
