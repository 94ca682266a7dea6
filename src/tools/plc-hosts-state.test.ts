import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ABSENT, encodeDid, newDidKey } from './plc-did-table.ts'
import {
  journalPathFor,
  NO_PDS,
  PlcHostsState,
  PlcHostsStateError,
  REFUSED,
} from './plc-hosts-state.ts'
import { fakeDid } from './testing/mock-plc-export.ts'

const PLC = 'https://plc.example.com'

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plc-hosts-state-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function valueFor(state: PlcHostsState, did: string): number {
  const key = newDidKey()
  assert.ok(encodeDid(did, key))
  return state.table.get(key)
}

function setDid(state: PlcHostsState, did: string, value: number): void {
  const key = newDidKey()
  assert.ok(encodeDid(did, key))
  state.setDid(key, value)
}

test('a checkpoint is what the next open sees; later changes are cut off', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'hosts.txt.state.json')
  assert.equal(journalPathFor(path), join(dir, 'hosts.txt.state.journal'))

  const first = await PlcHostsState.open(path, PLC)
  assert.equal(first.after, null)
  const a = first.hostIndex('pds-a.example.com')
  const b = first.hostIndex('a-much-longer-name.pds.example.net')
  assert.equal(first.hostIndex('pds-a.example.com'), a)
  setDid(first, fakeDid('1'), a)
  setDid(first, fakeDid('2'), b)
  setDid(first, fakeDid('3'), NO_PDS)
  setDid(first, fakeDid('1'), b) // moved
  const before = first.pendingBytes
  setDid(first, fakeDid('2'), b) // unchanged: not journaled
  assert.equal(first.pendingBytes, before)
  first.after = '2024-05-01T10:00:00.000Z'
  first.boundary = ['c1', 'c2']
  first.counters.operations = 5
  await first.checkpoint()
  assert.equal(first.pendingBytes, 0)
  // Changes after the checkpoint reach the journal only at the next one: simulate a crash after
  // they were written but before the JSON was replaced, by appending the bytes ourselves.
  setDid(first, fakeDid('4'), REFUSED)
  first.hostIndex('never-committed.example.com')
  await first.close()
  await appendFile(journalPathFor(path), new Uint8Array(44).fill(7))

  const second = await PlcHostsState.open(path, PLC)
  assert.deepEqual(second.hosts, ['pds-a.example.com', 'a-much-longer-name.pds.example.net'])
  assert.equal(valueFor(second, fakeDid('1')), b)
  assert.equal(valueFor(second, fakeDid('2')), b)
  assert.equal(valueFor(second, fakeDid('3')), NO_PDS)
  assert.equal(valueFor(second, fakeDid('4')), ABSENT)
  assert.equal(second.after, '2024-05-01T10:00:00.000Z')
  assert.deepEqual(second.boundary, ['c1', 'c2'])
  assert.equal(second.counters.operations, 5)
  assert.equal(second.complete, false)
  const state = JSON.parse(await readFile(path, 'utf8')) as { journalBytes: number }
  assert.equal((await stat(journalPathFor(path))).size, state.journalBytes)
  // Interning continues where the journal left off.
  assert.equal(second.hostIndex('pds-c.example.org'), 2)
  await second.close()
})

test('a second open of the same state is refused while the first holds it', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 's.json')
  const first = await PlcHostsState.open(path, PLC)
  await assert.rejects(
    PlcHostsState.open(path, PLC),
    (e: unknown) => e instanceof PlcHostsStateError && e.code === 'locked',
  )
  await first.close()
  const again = await PlcHostsState.open(path, PLC)
  await again.close()
})

test('a stale lock (dead pid) is taken over', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 's.json')
  await writeFile(`${path}.lock`, '2147483646 stale\n')
  const state = await PlcHostsState.open(path, PLC)
  await state.close()
})

test('state from another PLC directory, or damaged, is refused', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 's.json')
  const state = await PlcHostsState.open(path, PLC)
  setDid(state, fakeDid('1'), state.hostIndex('pds.example.com'))
  await state.checkpoint()
  await state.close()
  await assert.rejects(
    PlcHostsState.open(path, 'https://other-plc.example.com'),
    (e: unknown) => e instanceof PlcHostsStateError && e.code === 'plc-mismatch',
  )

  const json = await readFile(path, 'utf8')
  await writeFile(path, '{"format":')
  await assert.rejects(
    PlcHostsState.open(path, PLC),
    (e: unknown) => e instanceof PlcHostsStateError && e.code === 'corrupt',
  )
  await writeFile(path, json.replace('"journalBytes": ', '"journalBytes": 1000'))
  await assert.rejects(
    PlcHostsState.open(path, PLC),
    (e: unknown) => e instanceof PlcHostsStateError && e.code === 'corrupt',
  )
  await writeFile(path, json.replace(/"journalBytes": \d+/, '"journalBytes": 30'))
  await assert.rejects(
    PlcHostsState.open(path, PLC),
    (e: unknown) => e instanceof PlcHostsStateError && e.code === 'corrupt',
  )
  await writeFile(path, json)
  const ok = await PlcHostsState.open(path, PLC)
  await ok.close()
})

test('a large journal replays across read chunks', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 's.json')
  const state = await PlcHostsState.open(path, PLC)
  const n = 120_000 // 2.4 MB of DID records, with host records in between
  for (let i = 0; i < n; i++) {
    const host = state.hostIndex(`pds${i % 1000}.example.com`)
    setDid(state, fakeDid(`d${i}`), host)
    if (state.pendingBytes > 1 << 20) await state.checkpoint()
  }
  await state.checkpoint()
  await state.close()
  const again = await PlcHostsState.open(path, PLC)
  assert.equal(again.table.size, n)
  assert.equal(again.hosts.length, 1000)
  for (const i of [0, 1, 999, 1000, 65_536, n - 1]) {
    assert.equal(again.hosts[valueFor(again, fakeDid(`d${i}`))], `pds${i % 1000}.example.com`)
  }
  await again.close()
})
