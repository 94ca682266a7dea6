// The takedown set's hide-first step, which ingest and the account shards' owner both use: an
// account is hidden before its takedown waits for the account's turn, shown again when there was
// nothing to take down, and left hidden when the takedown failed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Takedowns } from './takedowns.ts'

const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'

describe('Takedowns.hideWhile', () => {
  it('hides the account while the takedown runs, and keeps it hidden once done', async () => {
    const t = new Takedowns()
    const done = await t.hideWhile(DID, async () => {
      assert.equal(t.has(DID), true, 'hidden before the takedown’s turn')
      return true
    })
    assert.equal(done, true)
    assert.equal(t.has(DID), true)
  })

  it('shows an account again when there was nothing to take down', async () => {
    const t = new Takedowns()
    assert.equal(await t.hideWhile(DID, async () => false), false)
    assert.equal(t.has(DID), false)
  })

  it('leaves an account hidden when its takedown failed', async () => {
    const t = new Takedowns()
    await assert.rejects(
      t.hideWhile(DID, async () => {
        throw new Error('database away')
      }),
      /database away/,
    )
    assert.equal(t.has(DID), true)
  })
})
