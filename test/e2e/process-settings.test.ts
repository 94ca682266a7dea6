// The relay as a process reports the settings it gave itself at start: where Node's compile cache
// is (so no thread loads the type stripper once it is warm), the young generation of the threads
// it starts and how far its heaps grow between full collections. All are set before the first
// thread exists (src/main.ts); this fails if one is dropped from the start-up path.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { HEAP_GROWING_PERCENT } from '../../src/runtime/heap-growth.ts'
import { THREAD_SEMI_SPACE_MB } from '../../src/runtime/thread-heap.ts'
import { startRelayProcess } from '../support/relay-process.ts'

test('the starting line names the compile cache, the threads’ semi-space size and the heap growth', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-settings-'))
  const plc = await startMockPlc({})
  const relay = await startRelayProcess(dir, plc.url)
  try {
    const starting = relay.logs
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { msg?: string; [k: string]: unknown }]
        } catch {
          return [] // a line of Node's own, not the relay's log
        }
      })
      .find((entry) => entry.msg === 'starting')
    assert.ok(starting, relay.logs.join('\n'))
    assert.equal(starting.threadSemiSpaceMb, THREAD_SEMI_SPACE_MB)
    assert.equal(starting.heapGrowingPercent, HEAP_GROWING_PERCENT)
    assert.match(String(starting.compileCache), /node_modules\/\.cache\/atproto-relay\/compile\//)
  } finally {
    relay.child.kill('SIGTERM')
    await relay.exited
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  }
})
