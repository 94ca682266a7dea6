import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { HEAP_GROWING_PERCENT } from './heap-growth.ts'

const run = promisify(execFile)
const MODULE = fileURLToPath(new URL('./heap-growth.ts', import.meta.url))

/** What `limitHeapGrowth` says is in force in a fresh Node started with these options. */
async function inForce(flags: string[]): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    [
      ...flags,
      '--input-type=module',
      '-e',
      `import(${JSON.stringify(MODULE)}).then((m) => console.log(m.limitHeapGrowth()))`,
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  )
  return Number(stdout)
}

test("the relay's heap growth unless Node's command line gives one", async () => {
  assert.equal(HEAP_GROWING_PERCENT, 100)
  assert.equal(await inForce([]), 100)
  assert.equal(await inForce(['--max-semi-space-size=16']), 100)
  assert.equal(await inForce(['--heap-growing-percent=50']), 50)
  assert.equal(await inForce(['--heap-growing-percent=300', '--heap-growing-percent=40']), 40)
})
