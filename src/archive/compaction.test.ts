// Compaction of the mirror on a real archive database (SQLite always; PostgreSQL too when
// RELAY_TEST_POSTGRES_URL is set). Repos that took many commits hold, besides their current tree,
// the blocks an older version (or a failure between writes) left behind: every superseded MST
// node and record. compactAll deletes exactly those, one repo at a time, and gives the space back
// (the SQLite file shrinks); its progress goes idle → running → done with the counts; a second
// call while it runs answers the running one. What is served is unchanged: each repo's export is
// byte-identical before and after. compactOne does one repo.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeypair } from '../../test/support/keypair.ts'
import { PG_URL } from '../../test/support/pg-temp.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { readCarSlice } from '../protocol/car.ts'
import { type CompactionProgress, Compactor } from './compaction.ts'
import { Mirror } from './mirror.ts'
import { RepoStore } from './repo-store.ts'
import { commitParts, type TempArchive, tempArchive } from './testing.ts'

const T0 = Date.parse('2026-06-01T00:00:00.000Z')
const did = (i: number) => `did:plc:compact${String(i).padStart(17, 'a')}`
// Records of a few KiB, so what is left behind fills many pages of the SQLite file.
const post = (text: string) => ({
  $type: 'app.bsky.feed.post',
  text: `${text} ${'lorem ipsum '.repeat(200)}`,
  createdAt: '2026-01-01T00:00:00.000Z',
})
const path = (i: number) => `app.bsky.feed.post/r${String(i).padStart(4, '0')}`

/**
 * A mirrored repo after `rounds` commits of creates, edits and deletes, with every block those
 * commits carried kept in the archive, as an older version that never deleted what a commit
 * superseded would have. Returns how many of the stored blocks its tree no longer reaches, and
 * the repo's export as it was before those were left behind (what the mirror should serve).
 */
async function busyRepo(
  a: TempArchive,
  d: string,
  rounds: number,
): Promise<{ stray: number; clean: Buffer }> {
  const repo = new TestRepo(d, generateKeypair('k256'))
  const carried = new Map<string, Uint8Array>()
  const apply = async (writes: Write[]) => {
    const { head, blocks } = commitParts(await repo.commit(writes))
    assert.deepEqual(await a.mirror.applyCommit(d, head, blocks), { ok: true, applied: true })
    for (const [cid, bytes] of blocks) if (cid !== head.commitCid) carried.set(cid, bytes)
  }
  await apply(
    Array.from({ length: 30 }, (_, i) => ({
      action: 'create',
      path: path(i),
      record: post(`p${i}`),
    })),
  )
  for (let r = 0; r < rounds; r++) {
    // Each round edits a record, and creates a post or deletes the one the round before made.
    const writes: Write[] = [{ action: 'update', path: path(r % 30), record: post(`edit ${r}`) }]
    if (r % 2 === 0) writes.push({ action: 'create', path: path(100 + r), record: post(`n${r}`) })
    else writes.push({ action: 'delete', path: path(100 + r - 1) })
    await apply(writes)
  }
  const tree = await repo.exportBlocks()
  const clean = await exported(a.mirror, d)
  assert.equal(readCarSlice(clean).blocks.size, tree.size + 1, 'commits keep the mirror exact')
  const stray = new Map([...carried].filter(([cid]) => !tree.has(cid)))
  const head = (await a.mirror.head(d))!
  await a.store.apply(d, {
    head,
    addNodes: stray,
    removeNodes: [],
    addRecords: [],
    removeRecords: [],
  })
  return { stray: stray.size, clean }
}

async function exported(mirror: Mirror, d: string): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of (await mirror.exportCar(d))!) chunks.push(c)
  return Buffer.concat(chunks)
}

function compactor(a: TempArchive, mirror = a.mirror) {
  const logs: string[] = []
  const c = new Compactor({
    mirror,
    adb: a.adb,
    dids: (after, limit) => a.store.dids(after, limit),
    now: () => T0,
    logger: { info: (_o, m) => logs.push(m), error: (_o, m) => logs.push(m) },
  })
  return { c, logs }
}

/** Waits (turn by turn, never by the clock) until the compaction is no longer running. */
async function finished(c: Compactor): Promise<CompactionProgress> {
  while (c.progress.status === 'running') await new Promise((r) => setImmediate(r))
  return c.progress
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`compaction on ${kind}`, {
    skip: kind === 'postgres' && !PG_URL && 'RELAY_TEST_POSTGRES_URL not set',
  }, () => {
    it('removes every block no tree reaches, gives the space back, serves the same repos', async () => {
      await using a = await tempArchive(kind)
      const dids = [did(1), did(2), did(3)]
      let stray = 0
      const clean = new Map<string, Buffer>()
      for (const d of dids) {
        const made = await busyRepo(a, d, 24)
        stray += made.stray
        clean.set(d, made.clean)
      }
      const treeBlocks = (await a.store.totals()).blocks - stray
      assert.ok(stray > 100, `many blocks left behind (${stray})`)

      const { c, logs } = compactor(a)
      assert.equal(c.progress.status, 'idle')
      const started = c.startAll()
      assert.deepEqual(
        [started.status, started.startedAt, started.finishedAt],
        ['running', new Date(T0).toISOString(), null],
      )
      assert.equal(
        c.startAll().startedAt,
        started.startedAt,
        'asking again answers the running one',
      )
      const done = await finished(c)
      assert.deepEqual(
        { ...done, bytesBefore: null, bytesAfter: null },
        {
          status: 'done',
          reposDone: 3,
          blocksRemoved: stray,
          bytesBefore: null,
          bytesAfter: null,
          startedAt: new Date(T0).toISOString(),
          finishedAt: new Date(T0).toISOString(),
          lastError: null,
        },
      )
      assert.deepEqual(logs, ['compaction started', 'compaction done'])
      assert.equal((await a.store.totals()).blocks, treeBlocks)
      // Served as the commits left it: byte for byte the export from before the leftovers.
      for (const d of dids) assert.ok((await exported(a.mirror, d)).equals(clean.get(d)!), d)
      assert.equal(done.bytesAfter, (await a.adb.storageBytes()).total)
      if (kind === 'sqlite') assert.ok(done.bytesBefore! > done.bytesAfter!, 'the file shrank')

      // A mirror its commits keep exact has nothing to remove; the exports do not change.
      c.startAll()
      assert.equal((await finished(c)).blocksRemoved, 0)
      for (const d of dids) assert.ok((await exported(a.mirror, d)).equals(clean.get(d)!), d)
    })

    it('compacts one repo, leaving the others; answers undefined for a repo it does not hold', async () => {
      await using a = await tempArchive(kind)
      const one = await busyRepo(a, did(1), 6)
      const other = await busyRepo(a, did(2), 6)
      const total = (await a.store.totals()).blocks
      const { c } = compactor(a)
      const out = await c.compactOne(did(1))
      assert.equal(out?.removed, one.stray)
      assert.equal((await a.store.totals()).blocks, total - one.stray)
      const tree = readCarSlice(one.clean).blocks.size - 1
      assert.equal(out?.kept, tree, 'the tree, not the commit')
      assert.ok((await exported(a.mirror, did(1))).equals(one.clean))
      assert.equal(await c.compactOne(did(9)), undefined)
      assert.equal((await c.compactOne(did(2)))?.removed, other.stray)
    })

    it('gives every page it freed back to the file system', {
      skip: kind === 'postgres' && 'PostgreSQL reuses the space (plain VACUUM); files keep it',
    }, async () => {
      await using a = await tempArchive(kind)
      for (const d of [did(1), did(2)]) await busyRepo(a, d, 24)
      const { c } = compactor(a)
      c.startAll()
      const done = await finished(c)
      const after = await a.adb.storageBytes()
      assert.equal(after.free, 0, 'no free page is left in the file')
      assert.ok(
        done.bytesAfter! < done.bytesBefore! / 2,
        `${done.bytesAfter} < half of ${done.bytesBefore}`,
      )
    })

    it('stops between repos when asked', async () => {
      await using a = await tempArchive(kind)
      for (let i = 1; i <= 3; i++) await busyRepo(a, did(i), 2)
      const { c } = compactor(a)
      c.startAll()
      await c.stop()
      assert.ok(c.progress.reposDone < 3, `stopped early (${c.progress.reposDone} done)`)
    })

    // The mirror runs one repo's writes one at a time: the commit waits for the sweep.
    it('never deletes blocks a commit adds while its repo is being compacted', async () => {
      await using a = await tempArchive(kind)
      const d = did(1)
      const repo = new TestRepo(d, generateKeypair('k256'))
      const first = commitParts(
        await repo.commit(
          Array.from({ length: 40 }, (_, i) => ({
            action: 'create',
            path: path(i),
            record: post(`${i}`),
          })),
        ),
      )
      await a.mirror.applyCommit(d, first.head, first.blocks)
      // The sweep of the compaction waits for the commit, which lands in between.
      let release = () => {}
      const gate = new Promise<void>((r) => (release = r))
      const gated = new (class extends RepoStore {
        override async blockCids(didArg: string, afterCid: Uint8Array | null, limit: number) {
          await gate
          return super.blockCids(didArg, afterCid, limit)
        }
      })(a.adb)
      const mirror = new Mirror(gated)
      const compacting = mirror.compact(d)
      await new Promise((r) => setTimeout(r, 0))
      const next = commitParts(
        await repo.commit([{ action: 'create', path: path(500), record: post('late') }]),
      )
      const applying = mirror.applyCommit(d, next.head, next.blocks)
      release()
      await compacting
      assert.equal((await applying).ok, true)
      const served = readCarSlice(await exported(mirror, d))
      const expected = await repo.exportBlocks()
      assert.deepEqual(
        [...expected.keys()].filter((cid) => !served.blocks.has(cid)),
        [],
        'every block of the current tree is still served',
      )
    })
  })
}
