import assert from 'node:assert/strict'
import { test } from 'node:test'
import { nodeFlagNumber, nodeOptionArgs } from './node-flags.ts'

test('a numeric V8 option among Node options: the last valid one wins', () => {
  const flag = 'heap-growing-percent'
  assert.equal(nodeFlagNumber([], flag), null)
  assert.equal(nodeFlagNumber(['--heap-growing-percent=50'], flag), 50)
  assert.equal(nodeFlagNumber(['--heap_growing_percent=30'], flag), 30)
  assert.equal(nodeFlagNumber(['--heap-growing-percent=50', '--heap-growing-percent=20'], flag), 20)
  // 0 is a value given (V8's own default); not a number, a negative one, or another option of
  // which this one's name is a prefix: not it.
  assert.equal(nodeFlagNumber(['--heap-growing-percent=50', '--heap-growing-percent=0'], flag), 0)
  assert.equal(
    nodeFlagNumber(['--heap-growing-percent=lots', '--heap-growing-percent=-5'], flag),
    null,
  )
  assert.equal(nodeFlagNumber(['--heap-growing-percentage=50', '--import', 'x.mjs'], flag), null)
  assert.equal(nodeFlagNumber(['--heap-growing-percent='], flag), null)
})

test("Node's options: NODE_OPTIONS first, then the command line, so the command line wins", () => {
  const args = nodeOptionArgs(['--max-semi-space-size=16'], ' --max-semi-space-size=2  --foo ')
  assert.equal(nodeFlagNumber(args, 'max-semi-space-size'), 16)
})
