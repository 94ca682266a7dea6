// Test support, run as a child process: opens a verify pool, floods it with k256 commits (so its
// workers are inside the libsecp256k1 binding most of the time), closes it a few milliseconds
// later, and does that CYCLES times. Prints how the workers ended and `done`; a close that
// terminated a worker inside the binding aborts this process instead (exit by signal).
import { VerifyPool } from '../../src/ingest/verify-pool.ts'
import { generateKeypair } from './keypair.ts'
import { messageFrame, TestRepo } from './test-repo.ts'

const CYCLES = Number(process.argv[2] ?? 30)
const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
const frame = messageFrame(
  await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
)
let ended = 0
let terminated = 0
for (let i = 0; i < CYCLES; i++) {
  const pool = new VerifyPool({ size: 2, maxInFlightPerWorker: 64 })
  const tasks = Array.from({ length: 200 }, () =>
    pool
      .verify({
        frame: Uint8Array.from(frame),
        didKey: repo.keypair.didKey,
        previous: null,
        now: Date.now(),
        mode: 'strict',
      })
      .catch(() => undefined),
  )
  await new Promise((r) => setTimeout(r, 20 + (i % 7) * 5))
  const how = await pool.close()
  ended += how.ended
  terminated += how.terminated
  await Promise.all(tasks)
}
console.log(JSON.stringify({ ended, terminated }))
console.log('done')
