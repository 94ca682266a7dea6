// A worker thread the relay cannot go on without ends (docs/scaling.md: a host thread holds its
// hosts' windows and cursors, an account shard its accounts' unwritten states): the relay logs
// which, stops gracefully and exits with 70 so that its supervisor starts it again, and the
// restart loses and repeats nothing. The relay runs as a real process with account shards and a
// host thread; the test ends one thread as an uncaught exception would, through the inspector
// (`--inspect` on loopback). A fake PDS keeps producing signed commits meanwhile; a consumer
// resuming from its last cursor must see every commit exactly once, relay seqs consecutive.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { CommitStream } from '../support/commit-stream.ts'
import { FakePds } from '../support/fake-pds.ts'
import { crashWorkerThread, debuggerUrlIn, INSPECT_FLAG } from '../support/inspector-session.ts'
import { eventually, HOST_THREAD_FLAGS, readCommits } from '../support/relay-harness.ts'
import { type RelayProcess, startRelayProcess } from '../support/relay-process.ts'

const COMPILE_CACHE = join(import.meta.dirname, '../../src/runtime/compile-cache.mjs')
const FLAGS = [...HOST_THREAD_FLAGS]

test(
  'a host thread that crashes stops the relay (exit 70); the restart loses nothing',
  {
    timeout: 120_000,
  },
  () => crashAndRestart('host-worker.ts', 'host thread ended; the relay stops'),
)

test(
  'an account shard that crashes stops the relay (exit 70); the restart loses nothing',
  {
    timeout: 120_000,
  },
  () => crashAndRestart('shard-worker.ts', 'account shard ended; the relay stops'),
)

async function crashAndRestart(script: string, logged: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-thread-death-'))
  const pds = await FakePds.start()
  const plc = await startMockPlc({})
  const stream = new CommitStream(pds, plc, 'abc')
  const seen: { seq: number; commit: string }[] = []
  const consume = async (relay: RelayProcess, cursor: number, until: number) => {
    seen.push(...(await readCommits(relay.wsUrl, cursor, until, relay.logs)))
  }
  const start = () =>
    startRelayProcess(dir, plc.url, FLAGS, { nodeFlags: ['--import', COMPILE_CACHE, INSPECT_FLAG] })
  let relay: RelayProcess | undefined
  try {
    relay = await start()
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribed')
    await stream.produce(30)
    await consume(relay, 0, 30)

    // The thread crashes in the middle of a burst.
    const burst = stream.produce(60)
    await eventually(() => stream.upstreamSeq >= 45, 20_000, 'burst under way')
    const debuggerUrl = debuggerUrlIn(relay.logs)
    assert.ok(debuggerUrl, 'the relay listens for the inspector')
    await crashWorkerThread(debuggerUrl, script)
    const waited = new Promise((r) =>
      setTimeout(() => r('still running after 20 s'), 20_000).unref(),
    )
    const code = await Promise.race([relay.exited, waited])
    assert.equal(code, 70, 'exit code for a supervisor to restart on')
    assert.ok(
      relay.logs.some((l) => l.includes(logged) && l.includes('crashed by the test')),
      `logged: ${logged}, with the cause`,
    )
    assert.ok(
      relay.logs.some((l) => l.includes('relay stopped')),
      'stopped gracefully (the other threads checkpointed)',
    )
    await burst

    relay = await start()
    await stream.produce(10)
    await consume(relay, seen.at(-1)!.seq, stream.emitted.length - seen.length)
    const seqs = seen.map((s) => s.seq)
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'relay seqs are consecutive across the crash, none repeated',
    )
    assert.deepEqual(
      seen.map((s) => s.commit).sort(),
      [...stream.emitted].sort(),
      'every upstream commit arrives exactly once',
    )
  } finally {
    relay?.child.kill('SIGKILL')
    await pds.close()
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  }
}
