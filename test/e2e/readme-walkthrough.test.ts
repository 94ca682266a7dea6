// The README's "Using it" steps, in order, as a new operator runs them: the admin key goes into
// .env, `relay serve` runs in that directory, and `./relay admin ...` from the same directory
// finds the key and the port without being told. The only change from the README is the port
// (RELAY_API_BIND, so tests can run side by side), which the CLI then follows too.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { eventually } from '../support/relay-harness.ts'
import { freePort, type RelayProcess, startRelayProcess } from '../support/relay-process.ts'

const ROOT = join(import.meta.dirname, '../..')
const run = promisify(execFile)

test('README walk-through: .env holds the admin key; ./relay admin finds it and the port', {
  timeout: 60_000,
}, async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  // The steps this test follows are the ones the README gives.
  assert.match(readme, /RELAY_ADMIN_PASSWORD=change-me.*> \.env/)
  assert.match(readme, /\.\/relay admin host add pds\.example\.com --cursor 0/)
  assert.match(readme, /\.\/relay admin host list/)

  const dir = await mkdtemp(join(tmpdir(), 'relay-readme-'))
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  let relay: RelayProcess | undefined
  try {
    const port = await freePort()
    await writeFile(
      join(dir, '.env'),
      `RELAY_ADMIN_PASSWORD=change-me\nRELAY_API_BIND=127.0.0.1:${port}\n`,
    )
    relay = await startRelayProcess(dir, plc.url, [], { bindAndKeyFromDotenv: true })
    const admin = (...args: string[]) =>
      run(join(ROOT, 'relay'), ['admin', ...args], { cwd: dir, env: { PATH: process.env.PATH } })
    const added = await admin('host', 'add', pds.hostname, '--cursor', '0')
    assert.match(added.stdout, new RegExp(`subscribed to ${pds.hostname}: .*after its seq 0`))
    await eventually(() => pds.subscriptions.length === 1, 10_000, 'subscribed')
    assert.equal(pds.subscriptions[0]!.cursor, '0')
    const listed = await admin('host', 'list')
    assert.match(listed.stdout, new RegExp(pds.hostname))
    assert.equal(listed.stderr, '', 'no npm banner, no warnings')
  } finally {
    relay?.child.kill('SIGKILL')
    await pds.close()
    await plc.close()
    await rm(dir, { recursive: true, force: true })
  }
})
