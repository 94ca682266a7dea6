// Ingest's one retry of a verification that failed where it ran (`VerifyWorkerError`: its worker
// died, or its peer shard ended). Checked: the retry gets the very same frame, unchanged, and
// the event is accepted once; no verification path may detach the frame it is given, since the
// pool and the shards' lending send copies (verify-messages.ts, shards/verify-lending.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { readRepoEnvelope } from '../protocol/envelope.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { HOSTS, rig } from './testing/ingest-rig.ts'
import { runVerifyTask, type VerifyTask } from './verify-task.ts'
import { VerifyWorkerError } from './verify-worker-error.ts'

test('a verification whose worker died is retried once, on the same bytes, and accepted once', async () => {
  const did = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
  const repo = new TestRepo(did, generateKeypair('k256'))
  const frame = messageFrame(
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }]),
  )
  const copy = Uint8Array.from(frame)
  const msg = readRepoEnvelope(frame)
  assert.ok(msg)
  const given: Uint8Array[] = []
  const r = rig(
    { [did]: HOSTS.get(1)! },
    {
      signingKeys: {
        [did]: { type: 'Multikey', publicKeyMultibase: repo.keypair.publicKeyMultibase },
      },
      verify: async (task: VerifyTask) => {
        given.push(task.frame)
        if (given.length === 1) throw new VerifyWorkerError('verify worker exited')
        // The rig's clock is fixed in the past; the commit's rev is of now.
        return runVerifyTask({ ...task, now: Date.now() }, verifySignature)
      },
    },
  )
  r.ingest.handle(1, msg, frame)
  await r.ingest.idle()
  assert.equal(given.length, 2)
  assert.equal(given[0], frame, 'the first try reads the frame itself')
  assert.equal(given[1], frame, 'the retry reads it again')
  assert.deepEqual(frame, copy, 'unchanged')
  assert.deepEqual(
    r.appended.map((a) => [a.type, a.body.repo, a.body.rev]),
    [['#commit', did, repo.rev]],
  )
  assert.deepEqual(r.settled, [{ hostId: 1, seq: msg.seq, dropped: false }])
  assert.deepEqual(r.drops, [])
})
