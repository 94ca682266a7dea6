// The soak (`npm run soak`, bench/soak/) in a few seconds, so it cannot rot: a real relay process
// under steady load from honest and hostile hosts, with honest, churning, stuck and replaying
// consumers. Only that it runs is checked here (samples taken, events delivered, every upstream
// event accounted for, no gap or duplicate seq); memory flatness needs the long run.
import assert from 'node:assert/strict'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runSoak } from '../../bench/soak/run.ts'

test('soak smoke: a short soak samples the relay and sees every event once, in order', {
  timeout: 60_000,
}, async () => {
  const out = await mkdtemp(join(tmpdir(), 'soak-smoke-'))
  const lines: string[] = []
  try {
    const result = await runSoak({
      minutes: 0.2,
      rate: 100,
      hosts: 2,
      accounts: 100,
      outDir: out,
      sampleSeconds: 2,
      hostile: true,
      stuckHoldMs: 4_000,
      replayEveryMs: 4_000,
      drainSeconds: 20,
      gcProbeEveryMs: 4_000,
      gcProbeSettleMs: 500,
      keepData: false,
      // Workers started with the relay, so that the probe's collection of a worker's heap is
      // checked every run: beside --verify-on-main they start only when the main thread hands
      // the events over, which at 100 commits/s it may never do.
      relayEnv: { RELAY_VERIFY_ON_MAIN: '0' },
      print: (line) => lines.push(line),
    })
    const log = lines.join('\n')
    assert.ok(result.ok, `soak failed: ${result.failures.join('; ')}\n${log}`)
    assert.equal(result.violationCount, 0, log)
    assert.ok(result.samples.length >= 4, log)
    assert.ok(
      result.samples.every((s) => s.rssMB > 0 && s.heapUsedMB > 0 && s.fds > 0),
      log,
    )
    assert.ok(result.samples.at(-1)!.logMB > 0, log)
    for (const n of result.delivered) assert.ok(n > 100, log)
    assert.ok(result.final.sent > 0 && result.final.outcomes === result.final.sent, log)
    assert.ok((result.final.replays[0]?.replays ?? 0) >= 1, log)
    // The forced collections ran through the relay's inspector and read the memory left.
    assert.ok(result.probes.length >= 1, log)
    for (const p of result.probes) {
      assert.ok(p.rssAfterMB > 0 && p.heapUsedAfterMB > 0, log)
      assert.equal(p.workersCollected, 1, log) // the relay runs one verify worker here
    }
    assert.ok(!/GC probe failed/.test(log), log)
    for (const f of ['samples.csv', 'memory.svg', 'summary.json', 'relay.log'])
      await access(join(out, f))
  } finally {
    await rm(out, { recursive: true, force: true })
  }
})
