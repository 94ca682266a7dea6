// The start-up bench (`npm run startup`, bench/startup.ts) at a small size, so it cannot rot, and
// the behaviour it measures: a relay restarted on a database with accounts and hosts serves, and
// dials every stored host once, spread over the resubscribe window (at least 5 s) rather than
// all at once. How fast is the bench's business, not this test's.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { test } from 'node:test'

const BENCH = join(import.meta.dirname, '../../bench/startup.ts')

test('start-up: serves on a seeded database and dials its 40 hosts once each, spread out', {
  timeout: 120_000,
}, async (t) => {
  // Its own process group, so a timed-out run takes the relay the bench started along.
  const child = spawn(process.execPath, [BENCH, '--accounts', '5000', '--hosts', '40'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b))
  child.stderr.on('data', (b: Buffer) => (err += b))
  const [code] = await once(child, 'exit')
  assert.equal(code, 0, err)
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>
  assert.equal(r.accounts, 5000)
  assert.ok(r.servingSeconds! > 0, out)
  assert.ok(r.startedSeconds! > 0, out)
  assert.equal(r.hostsDialled, 40, out)
  assert.equal(r.mostDialsOfOneHost, 1, `each host once, no redial: ${out}`)
  // 40 hosts over the 5 s minimum: the last dial comes ~4.9 s after the first.
  assert.ok(r.lastDialSeconds! - r.firstDialSeconds! >= 4.5, out)
})
