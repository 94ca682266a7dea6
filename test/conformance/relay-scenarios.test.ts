// Conformance: captured network frames (fixtures/relay-scenarios/*.json) through the pure layers
// a relay runs on each one: frame decoding, Lexicon message parsing, re-encoding of the output
// frame, and commit/sync verification with the account's real key in the mode the file names
// (strict unless `lenient`). Drops that depend on relay state (e.g. a commit from a deactivated
// account) are the relay service's business; here every commit and sync must verify, and every
// one that carries `prevData` must invert to it (sync 1.1).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { toJson } from '../../src/protocol/cbor/data-model.ts'
import { decodeFrame } from '../../src/protocol/frame.ts'
import { parseMessage } from '../../src/protocol/messages.ts'
import {
  accountBody,
  commitBody,
  frameWithSeq,
  identityBody,
  prepareFrame,
  syncBody,
} from '../../src/protocol/output.ts'
import { verifyCommit, verifySync } from '../../src/verify/commit.ts'
import { parseMultikey } from '../../src/verify/crypto/keys.ts'
import { verifySignature } from '../../src/verify/crypto/signature.ts'
import type { PreviousRepoState } from '../../src/verify/signed-commit.ts'
import { loadScenario, scenarioFrame, scenarioNames } from '../support/scenarios.ts'

const names = scenarioNames()

test('all four scenario files are present', () => {
  assert.deepEqual(names, [
    'account_lifecycle.json',
    'deactivation.json',
    'legacy.json',
    'post_lifecycle.json',
  ])
})

for (const name of names) {
  const scenario = loadScenario(name)
  const mode = scenario.lenient ? 'lenient' : 'strict'
  describe(`${name} (${mode})`, () => {
    const keys = new Map(
      scenario.accounts.map((a) => [
        a.identity.did,
        parseMultikey(a.identity.keys.atproto.publicKeyMultibase),
      ]),
    )
    const state = new Map<string, PreviousRepoState>()
    scenario.messages.forEach((m, i) => {
      const t = m.frame.header.t
      test(`message ${i}: ${t} seq ${String(m.frame.body.seq)}`, async () => {
        const frame = decodeFrame(scenarioFrame(m))
        assert.equal(frame.op, 1)
        if (frame.op !== 1) return
        assert.equal(frame.type, t)
        const msg = parseMessage(frame)
        assert.equal(msg.type, t)
        if (msg.type === '#info') return

        // What the relay would emit: Lexicon fields only, blobs an array, seq spliced in.
        const seq = 1000 + i
        let body: Record<string, unknown>
        switch (msg.type) {
          case '#commit': {
            const v = await verifyCommit(msg, {
              key: keys.get(msg.repo)!,
              previous: state.get(msg.repo) ?? null,
              now: Date.now(),
              mode,
              checkSignature: verifySignature,
            })
            assert.ok(v.ok, `commit verifies: ${JSON.stringify(v)}`)
            assert.equal(
              v.inverted,
              msg.prevData !== undefined,
              'inverted exactly when prevData is present',
            )
            if (msg.prevData === undefined)
              assert.deepEqual(v.warnings.includes('missing-prev-data'), true)
            state.set(msg.repo, { rev: v.rev, data: v.dataCid })
            body = commitBody(msg)
            break
          }
          case '#sync': {
            const v = verifySync(msg, {
              key: keys.get(msg.did)!,
              previous: state.get(msg.did) ?? null,
              now: Date.now(),
              checkSignature: verifySignature,
            })
            assert.ok(v.ok, `sync verifies: ${JSON.stringify(v)}`)
            state.set(msg.did, { rev: v.rev, data: v.dataCid })
            body = syncBody(msg)
            break
          }
          case '#identity':
            body = identityBody(msg.did, msg.time, msg.handle ?? null)
            break
          case '#account':
            body = accountBody(msg)
            break
        }
        const out = frameWithSeq(prepareFrame(t, body), seq)
        const again = decodeFrame(out)
        assert.equal(again.op, 1)
        if (again.op !== 1) return
        const expected: Record<string, unknown> = { ...m.frame.body, seq }
        if (t === '#commit' && expected.blobs === null) expected.blobs = []
        if (t === '#commit') delete expected.prev // not in the Lexicon
        assert.deepEqual(
          toJson(again.body),
          expected,
          'output frame equals the input apart from seq and blobs',
        )
      })
    })
  })
}
