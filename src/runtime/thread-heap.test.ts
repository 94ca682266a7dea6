import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { inFreshNode } from './testing.ts'
import { commandLineSemiSpaceMb } from './thread-heap.ts'

const run = promisify(execFile)
const MODULE = fileURLToPath(new URL('./thread-heap.ts', import.meta.url))

test('the semi-space size given on the command line', () => {
  assert.equal(commandLineSemiSpaceMb([]), null)
  assert.equal(commandLineSemiSpaceMb(['--max-semi-space-size=16']), 16)
  assert.equal(commandLineSemiSpaceMb(['--max_semi_space_size=2']), 2)
  assert.equal(commandLineSemiSpaceMb(['--max-semi-space-size=16', '--max-semi-space-size=1']), 1)
  assert.equal(commandLineSemiSpaceMb(['--max-semi-space-size=lots', '--import', 'x.mjs']), null)
  // 0 is V8's own default: no size given, so the threads still get theirs.
  assert.equal(commandLineSemiSpaceMb(['--max-semi-space-size=2', '--max-semi-space-size=0']), null)
})

// A process started like the relay (16 MB semi-spaces) whose main thread and one worker each
// allocate enough surviving garbage to grow their young generation as far as V8 lets them; it
// prints both young generations' sizes (new space: the two semi-spaces) in MB.
const grow = `
  const keep = []
  for (let i = 0; i < 2e6; i++) { const o = { i, s: 'x' + i }; if (i % 20 === 0) keep.push(o); if (keep.length > 40000) keep.length = 0 }
  const newSpace = () => process.getBuiltinModule('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576
`
const program = (limit: boolean) => `
  ${limit ? `await import(${JSON.stringify(MODULE)}).then((m) => m.limitThreadYoungGeneration())` : ''}
  const { Worker } = await import('node:worker_threads')
  const w = new Worker(${JSON.stringify(`${grow}\nprocess.getBuiltinModule('node:worker_threads').parentPort.postMessage(newSpace())`)}, { eval: true })
  const worker = await new Promise((resolve) => w.once('message', resolve))
  ${grow}
  console.log(JSON.stringify({ main: newSpace(), worker }))
`

async function youngGenerations(limit: boolean): Promise<{ main: number; worker: number }> {
  const { stdout } = await run(process.execPath, [
    '--max-semi-space-size=16',
    '--input-type=module',
    '-e',
    program(limit),
  ])
  return JSON.parse(stdout) as { main: number; worker: number }
}

test('threads started after the limit get small young generations; the main thread keeps its own', async () => {
  // Ranges, not V8's exact page counts: two 4 MB semi-spaces are 8 MB, two 16 MB ones 32 MB.
  const limited = await youngGenerations(true)
  assert.ok(limited.worker < 16, `worker new space ${limited.worker} MB`)
  assert.ok(limited.main >= 24, `the main thread still grows its (${limited.main} MB)`)
  // Without it the worker grows like the main thread: the limit is what keeps it small.
  const unlimited = await youngGenerations(false)
  assert.ok(unlimited.worker >= 24, `unlimited worker new space ${unlimited.worker} MB`)
})

test('threads get less when Node was asked for less, on its command line or in NODE_OPTIONS', async () => {
  const given = (flags: string[], nodeOptions: string): Promise<number> =>
    inFreshNode(MODULE, 'limitThreadYoungGeneration', flags, nodeOptions)
  assert.equal(await given(['--max-semi-space-size=16'], ''), 4)
  assert.equal(await given(['--max-semi-space-size=2'], ''), 2)
  assert.equal(await given([], '--max-semi-space-size=1'), 1)
  assert.equal(await given([], ''), 4)
})
