// The Node flags the benches start our relay with: npm start's, then the ones given.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { relayNodeFlags, startScriptNodeFlags } from './harness.ts'

test("a given Node flag is added after npm start's, which stay unless left out", async () => {
  const start = await startScriptNodeFlags()
  // The start script's flags (its young generation, its compile cache) are what a run measures.
  assert.ok(start.length > 0)
  assert.deepEqual(await relayNodeFlags(undefined, false), start)
  // Added last, so that of two V8 flags of one name the given one wins (V8 takes the last).
  assert.deepEqual(await relayNodeFlags(['--cpu-prof', '--max-semi-space-size=8'], false), [
    ...start,
    '--cpu-prof',
    '--max-semi-space-size=8',
  ])
  assert.deepEqual(await relayNodeFlags(['--cpu-prof'], true), ['--cpu-prof'])
  assert.deepEqual(await relayNodeFlags(undefined, true), [])
})
