import assert from 'node:assert/strict'
import { copyFileSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  crawlableHost,
  type PlcHostsOptions,
  type PlcHostsProgress,
  plcHosts,
  plcHostsCommand,
} from './plc-hosts.ts'
import { journalPathFor, PlcHostsStateError } from './plc-hosts-state.ts'
import {
  fakeCid,
  fakeDid,
  legacyCreate,
  type MockExportOp,
  plcOperation,
  startMockPlcExport,
  tombstone,
} from './testing/mock-plc-export.ts'

const BASE = Date.parse('2024-01-01T00:00:00.000Z')
const at = (second: number) => new Date(BASE + second * 1000).toISOString()

/** The network under test, in time order; `tie` operations share one millisecond. */
function scenario(): MockExportOp[] {
  const ops: MockExportOp[] = []
  let clock = 0
  const add = (name: string, operation: unknown, extra: Partial<MockExportOp> = {}) => {
    ops.push({
      did: fakeDid(name),
      cid: fakeCid(`${name}/${ops.length}`),
      createdAt: at(clock++),
      operation,
      ...extra,
    })
  }
  // Seconds 0–1, then three operations in one millisecond (page size 4 splits them).
  add('a1', plcOperation('https://pds-a.example.com'))
  add('a2', plcOperation('https://PDS-A.example.com/')) // same host once normalised
  for (const name of ['e1', 'e2', 'e3']) {
    ops.push({
      did: fakeDid(name),
      cid: fakeCid(name),
      createdAt: at(clock),
      operation: plcOperation('https://pds-e.example.com'),
    })
  }
  clock++
  add('a3', legacyCreate('https://pds-a.example.com'))
  add('a4', legacyCreate('https://pds-a.example.com'))
  add('a5', plcOperation('https://pds-a.example.com'))
  add('mover', plcOperation('https://pds-a.example.com'))
  add('e4', legacyCreate('https://pds-e.example.com'))
  add('e5', plcOperation('https://pds-e.example.com/'))
  for (const name of ['b1', 'b2', 'b3', 'b4']) add(name, plcOperation('https://pds-b.example.net'))
  for (const name of ['c1', 'c2', 'c3']) add(name, plcOperation('https://c.example.org'))
  add('gone', plcOperation('https://gone.example.com'))
  add('d2', legacyCreate('https://pds-d.example.com'))
  add('no-pds', plcOperation(null))
  const refused = [
    'http://insecure.example.com',
    'https://10.0.0.1',
    'https://localhost:2583',
    'https://pds.example.com:8443',
    'https://foo.test',
    'not a url',
    'https://pds.example.com/xrpc',
  ]
  for (const [i, endpoint] of refused.entries()) add(`refused${i}`, plcOperation(endpoint))
  add('r8', plcOperation('https://192.168.1.1'))
  ops.push({ did: '', cid: 'bad', createdAt: at(clock++), raw: '{"truncated": ' })
  add('web', plcOperation('https://pds-a.example.com'), { did: 'did:web:example.com' })
  // Later changes.
  add('mover', plcOperation('https://pds-d.example.com')) // moves from A to D
  add('b4', tombstone())
  add('gone', tombstone())
  add('c3', plcOperation('https://evil.example.com'), { nullified: true }) // ignored
  add('a1', plcOperation('https://pds-a.example.com', 'new-handle.example.com'))
  add('a5', { type: 'plc_future_type' }) // unknown: a5 stays on A
  add('r8', plcOperation('https://pds-d.example.com')) // from refused to D
  return ops
}

const EXPECTED_HOSTS = [
  'pds-a.example.com',
  'pds-e.example.com',
  'c.example.org',
  'pds-b.example.net',
  'pds-d.example.com',
]
const EXPECTED_COUNTS = [5, 5, 3, 3, 3]

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plc-hosts-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function outputs(out: string): Promise<{ hosts: string; counts: string }> {
  return {
    hosts: await readFile(out, 'utf8'),
    counts: await readFile(out.replace(/\.txt$/, '.counts.tsv'), 'utf8'),
  }
}

function options(
  plcUrl: string,
  out: string,
  extra: Partial<PlcHostsOptions> = {},
): PlcHostsOptions {
  return {
    plcUrl,
    out,
    userAgent: 'atproto-relay/test (+ops@example.com)',
    pageSize: 4,
    checkpointIntervalMs: 0,
    http: { baseDelayMs: 1, maxDelayMs: 2 },
    ...extra,
  }
}

test('counts the latest PDS of every DID and writes both outputs in order', async (t) => {
  const ops = scenario()
  const mock = await startMockPlcExport(ops)
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const out = join(dir, 'hosts.txt')
  const progress: PlcHostsProgress[] = []
  const result = await plcHosts(options(mock.url, out, { onProgress: (p) => progress.push(p) }))

  const { hosts, counts } = await outputs(out)
  assert.equal(hosts, EXPECTED_HOSTS.map((h) => `${h}\n`).join(''))
  assert.equal(counts, EXPECTED_HOSTS.map((h, i) => `${EXPECTED_COUNTS[i]}\t${h}\n`).join(''))
  const applied = ops.filter((o) => o.raw === undefined).length
  assert.deepEqual(result, {
    hosts: 5,
    dids: 19,
    operations: applied,
    refused: 7,
    noPds: 3,
    malformedLines: 1,
    tieSkips: 0,
  })
  // The three operations of one millisecond were split by a page boundary and all counted: the
  // second request asked from 1 ms before them.
  const tie = Date.parse(at(2))
  assert.ok(
    mock.requests[1]!.url.includes(`after=${encodeURIComponent(new Date(tie - 1).toISOString())}`),
    mock.requests[1]!.url,
  )
  for (const r of mock.requests) {
    assert.equal(r.userAgent, 'atproto-relay/test (+ops@example.com)')
    assert.match(r.url, /^\/export\?count=4(&|$)/)
  }
  // Progress after every page, ending where the result ends.
  assert.equal(progress.length, mock.requests.length)
  const last = progress.at(-1)!
  assert.equal(last.operations, applied)
  assert.equal(last.hosts, 6) // including gone.example.com, which has no accounts left
  assert.equal(last.after, ops.at(-1)!.createdAt)
  assert.ok(progress.every((p, i) => i === 0 || p.operations >= progress[i - 1]!.operations))
  const state = JSON.parse(await readFile(`${out}.state.json`, 'utf8')) as { complete: boolean }
  assert.equal(state.complete, true)
})

test('a run aborted midway resumes to the same output as an uninterrupted run', async (t) => {
  const mock = await startMockPlcExport(scenario())
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const whole = join(dir, 'whole.txt')
  await plcHosts(options(mock.url, whole))

  const out = join(dir, 'hosts.txt')
  const controller = new AbortController()
  const reason = new Error('stop here')
  let pages = 0
  await assert.rejects(
    plcHosts(
      options(mock.url, out, {
        signal: controller.signal,
        checkpointIntervalMs: 60_000, // only the abort checkpoints
        onProgress: () => {
          if (++pages === 3) controller.abort(reason)
        },
      }),
    ),
    (e: unknown) => e === reason,
  )
  const stopped = JSON.parse(await readFile(`${out}.state.json`, 'utf8')) as { after: string }
  assert.ok(stopped.after !== null)
  const before = mock.requests.length
  const result = await plcHosts(options(mock.url, out))
  assert.match(mock.requests[before]!.url, /after=/) // resumed, not restarted
  assert.deepEqual(await outputs(out), await outputs(whole))
  assert.equal(result.operations, scenario().filter((o) => o.raw === undefined).length)
})

test('a run killed after writing its journal but not its state resumes from the last state', async (t) => {
  const mock = await startMockPlcExport(scenario())
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const out = join(dir, 'hosts.txt')
  const statePath = join(dir, 'resume.json')
  const saved = join(dir, 'saved.json')
  let pages = 0
  await plcHosts(
    options(mock.url, out, {
      statePath,
      onProgress: () => {
        // Called before this page's checkpoint: the state on disk is that of two pages ago.
        if (++pages === 3) copyFileSync(statePath, saved)
      },
    }),
  )
  const whole = await outputs(out)
  await rm(out)
  // The finished run's journal is longer than the old state refers to, as after a kill.
  await copyFile(saved, statePath)
  const old = JSON.parse(await readFile(saved, 'utf8')) as { journalBytes: number; after: string }
  const journal = await stat(journalPathFor(statePath))
  assert.ok(old.after !== null && old.journalBytes > 0 && old.journalBytes < journal.size)
  await plcHosts(options(mock.url, out, { statePath }))
  assert.deepEqual(await outputs(out), whole)
})

test('a finished run catches up with newer operations when run again', async (t) => {
  const ops = scenario()
  const mock = await startMockPlcExport(ops)
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const out = join(dir, 'hosts.txt')
  const first = await plcHosts(options(mock.url, out, { pageSize: 1000 }))
  mock.addOps(
    {
      did: fakeDid('z1'),
      cid: 'z1',
      createdAt: at(1000),
      operation: plcOperation('https://zz.example.com'),
    },
    {
      did: fakeDid('a1'),
      cid: 'z2',
      createdAt: at(1001),
      operation: plcOperation('https://zz.example.com'),
    },
  )
  const before = mock.requests.length
  const second = await plcHosts(options(mock.url, out, { pageSize: 1000 }))
  assert.ok(mock.requests[before]!.url.includes('after='), 'continued from the saved cursor')
  assert.equal(second.operations, first.operations + 2)
  assert.equal(
    (await outputs(out)).counts,
    '5\tpds-e.example.com\n4\tpds-a.example.com\n3\tc.example.org\n3\tpds-b.example.net\n3\tpds-d.example.com\n2\tzz.example.com\n',
  )
  // A state made from another directory is refused rather than mixed.
  await assert.rejects(
    plcHosts(options('http://127.0.0.1:1', out)),
    (e: unknown) => e instanceof PlcHostsStateError && e.code === 'plc-mismatch',
  )
})

test('retries 429 and 500 (honouring Retry-After) and still counts everything', async (t) => {
  const mock = await startMockPlcExport(scenario())
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const out = join(dir, 'hosts.txt')
  const delays: number[] = []
  mock.failNext({ status: 429, headers: { 'retry-after': '2' } }, { status: 500 })
  const result = await plcHosts(
    options(mock.url, out, {
      http: { baseDelayMs: 5, maxDelayMs: 10, sleep: async (ms) => void delays.push(ms) },
    }),
  )
  assert.equal(delays.length, 2)
  assert.equal(delays[0], 2000)
  assert.ok(delays[1]! >= 5 && delays[1]! <= 10, `backoff ${delays[1]}`)
  assert.equal(result.dids, 19)
  assert.equal((await outputs(out)).hosts, EXPECTED_HOSTS.map((h) => `${h}\n`).join(''))
})

test('more than 1000 operations in one millisecond: asks a larger page, then steps past', async (t) => {
  const ops: MockExportOp[] = []
  for (let i = 0; i < 1001; i++) {
    ops.push({
      did: fakeDid(`t${i}`),
      cid: fakeCid(`t${i}`),
      createdAt: at(1),
      operation: plcOperation('https://tie.example.com'),
    })
  }
  ops.push({
    did: fakeDid('late'),
    cid: 'late',
    createdAt: at(2),
    operation: plcOperation('https://late.example.com'),
  })
  const mock = await startMockPlcExport(ops)
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const result = await plcHosts(options(mock.url, join(dir, 'hosts.txt'), { pageSize: 10 }))
  // 10 of one millisecond (a full page of ties: the next overlap would fill a page) → 1000
  // (990 new) → 1000 all seen: the 1001st is skipped → the later operation → nothing new.
  assert.equal(result.tieSkips, 1)
  assert.equal(result.dids, 1001)
  assert.deepEqual(
    mock.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('count')),
    ['10', '1000', '1000', '1000', '10'],
  )
})

test('crawlableHost accepts what requestCrawl would, bare and lowercase', () => {
  assert.equal(crawlableHost('https://PDS.Example.com/'), 'pds.example.com')
  assert.equal(crawlableHost('https://pds.example.com:443'), 'pds.example.com')
  for (const bad of [
    'http://pds.example.com',
    'https://1.2.3.4',
    'https://[::1]',
    'https://x.local',
  ]) {
    assert.equal(crawlableHost(bad), null, bad)
  }
})

test('the command: usage errors exit 2, a run exits 0, a failing directory exits 1', async (t) => {
  const mock = await startMockPlcExport(scenario())
  t.after(() => mock.close())
  const dir = await tempDir(t)
  const lines: string[] = []
  const io = {
    stderr: (l: string) => lines.push(l),
    stdout: (l: string) => lines.push(l),
    handleSignals: false,
  }
  assert.equal(await plcHostsCommand(['--bogus'], {}, io), 2)
  assert.equal(await plcHostsCommand(['--page-size', '0'], {}, io), 2)
  assert.equal(await plcHostsCommand(['--plc-host', 'ftp://plc.example.com'], {}, io), 2)
  assert.equal(await plcHostsCommand(['--user-agent-contact', 'a(b)'], {}, io), 2)
  assert.equal(await plcHostsCommand(['extra'], {}, io), 2)
  assert.equal(await plcHostsCommand(['--help'], {}, io), 0)
  assert.match(lines.at(-1)!, /Usage: relay plc-hosts/)

  lines.length = 0
  const out = join(dir, 'hosts.txt')
  const code = await plcHostsCommand(
    ['plc-hosts', '--out', out, '--page-size', '4', '--user-agent-contact', 'ops@example.com'],
    { RELAY_PLC_HOST: mock.url, ATP_PLC_HOST: 'http://127.0.0.1:1' },
    { ...io, progressEverySeconds: 0 },
  )
  assert.equal(code, 0, lines.join('\n'))
  assert.equal((await outputs(out)).hosts, EXPECTED_HOSTS.map((h) => `${h}\n`).join(''))
  assert.match(
    lines[0]!,
    /^plc-hosts: [\d,]+ operations, [\d,]+ DIDs, [\d,]+ hosts, at \S+, [\d,]+ ops\/s$/,
  )
  assert.match(lines.at(-1)!, /^plc-hosts: done: 5 hosts, 19 accounts/)
  assert.match(mock.requests.at(-1)!.userAgent ?? '', /^atproto-relay\/\S+ \(\+ops@example\.com\)$/)

  lines.length = 0
  mock.failNext({ status: 400, body: 'no' })
  const failed = await plcHostsCommand(
    ['--plc-host', mock.url, '--out', join(dir, 'other.txt')],
    {},
    io,
  )
  assert.equal(failed, 1)
  assert.match(lines.join('\n'), /HTTP 400/)
})
