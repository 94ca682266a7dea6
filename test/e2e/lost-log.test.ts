// Output seqs are never reused (docs/design.md §4 item 3): if the event log is lost while the database
// remembers later seqs, the relay refuses to start and says what to do, rather than handing out
// seqs consumers have already seen.
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import { eventually, startTestRelay } from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const DID = 'did:plc:hhhhhhhhhhhhhhhhhhhhhhhh'

test('a lost event log is refused at start, with the way out', { timeout: 30_000 }, async () => {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const repo = new TestRepo(DID, generateKeypair('k256'))
  plc.setDocument(
    DID,
    testDidDocument(DID, pds.url, {
      handle: 'h.test',
      publicKeyMultibase: repo.keypair.publicKeyMultibase,
    }),
  )
  const relay = await startTestRelay({ plcUrl: plc.url })
  const dir = relay.dir
  try {
    assert.equal((await relay.crawl(pds.hostname)).status, 200)
    await eventually(() => pds.subscriberCount === 1)
    for (let i = 1; i <= 3; i++) {
      pds.emit(
        i,
        messageFrame(
          await repo.commit(
            [{ action: 'create', path: `app.bsky.feed.post/3l${String(i).padStart(11, '0')}` }],
            { seq: i },
          ),
        ),
      )
    }
    await eventually(() => relay.relay.log.flushedSeq === 3)
    await relay.close({ keepDir: true })
    await rm(join(dir, 'persist'), { recursive: true, force: true })
    await assert.rejects(
      startTestRelay({ plcUrl: plc.url, dir }),
      /ends at seq 0, but the database has state up to seq 3.*--initial-seq-number 4/,
    )
    const restarted = await startTestRelay({
      plcUrl: plc.url,
      dir,
      flags: ['--initial-seq-number', '4'],
    })
    assert.equal(restarted.relay.log.lastSeq, 3)
    await restarted.close()
  } finally {
    await pds.close()
    await plc.close()
  }
})
