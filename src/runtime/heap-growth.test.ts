// Which heap growth is in force, seen in fresh Node processes: the relay's own unless Node's
// command line gives one (the last one given wins).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { HEAP_GROWING_PERCENT } from './heap-growth.ts'
import { inFreshNode } from './testing.ts'

const MODULE = fileURLToPath(new URL('./heap-growth.ts', import.meta.url))

/** What `limitHeapGrowth` says is in force in a fresh Node started with these options. */
const inForce = (flags: string[]): Promise<number> => inFreshNode(MODULE, 'limitHeapGrowth', flags)

test("the relay's heap growth unless Node's command line gives one", async () => {
  assert.equal(HEAP_GROWING_PERCENT, 150)
  assert.equal(await inForce([]), 150)
  assert.equal(await inForce(['--max-semi-space-size=16']), 150)
  assert.equal(await inForce(['--heap-growing-percent=50']), 50)
  assert.equal(await inForce(['--heap-growing-percent=300', '--heap-growing-percent=40']), 40)
  // 0 asks for V8's own factor, and is kept.
  assert.equal(await inForce(['--heap-growing-percent=0']), 0)
})
