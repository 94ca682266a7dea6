// Which heap growth is in force, seen in fresh Node processes: the relay's own unless Node's
// command line gives one (the last one given wins).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  HEAP_GROWING_PERCENT,
  MARKING_HARD_TRIGGER_PERCENT,
  MARKING_SOFT_TRIGGER_PERCENT,
} from './heap-growth.ts'
import { inFreshNode } from './testing.ts'

const MODULE = fileURLToPath(new URL('./heap-growth.ts', import.meta.url))

/** What `limitHeapGrowth` says is in force in a fresh Node started with these options. */
const inForce = (flags: string[]): Promise<number> => inFreshNode(MODULE, 'limitHeapGrowth', flags)

test("the relay's heap growth unless Node's command line gives one", async () => {
  assert.equal(HEAP_GROWING_PERCENT, 100)
  assert.equal(await inForce([]), 100)
  assert.equal(await inForce(['--max-semi-space-size=16']), 100)
  assert.equal(await inForce(['--heap-growing-percent=50']), 50)
  assert.equal(await inForce(['--heap-growing-percent=300', '--heap-growing-percent=40']), 40)
})

test("the relay's marking triggers unless Node's command line gives them", async () => {
  const triggers = (flags: string[]): Promise<{ soft: number; hard: number }> =>
    inFreshNode(MODULE, 'delayMarking', flags)
  assert.deepEqual([MARKING_SOFT_TRIGGER_PERCENT, MARKING_HARD_TRIGGER_PERCENT], [80, 90])
  assert.deepEqual(await triggers([]), { soft: 80, hard: 90 })
  assert.deepEqual(await triggers(['--incremental-marking-soft-trigger=60']), {
    soft: 60,
    hard: 90,
  })
  assert.deepEqual(await triggers(['--incremental_marking_hard_trigger=95']), {
    soft: 80,
    hard: 95,
  })
  const v8Rule = ['--incremental-marking-soft-trigger=0', '--incremental-marking-hard-trigger=0']
  assert.deepEqual(await triggers(v8Rule), { soft: 0, hard: 0 })
})
