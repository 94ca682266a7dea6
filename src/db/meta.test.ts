import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tempDatabase } from './testing.ts'

describe('MetaStore', () => {
  it('gets, sets, overwrites and deletes values', async () => {
    await using t = await tempDatabase()
    const { meta } = t.db
    assert.equal(await meta.get('cursors_checkpoint_seq'), undefined)
    await meta.set('cursors_checkpoint_seq', '7278969010')
    assert.equal(await meta.get('cursors_checkpoint_seq'), '7278969010')
    await meta.set('cursors_checkpoint_seq', '7278969011')
    assert.equal(await meta.get('cursors_checkpoint_seq'), '7278969011')
    await meta.set('other', '')
    assert.equal(await meta.get('other'), '')
    await meta.delete('cursors_checkpoint_seq')
    await meta.delete('never-set')
    assert.equal(await meta.get('cursors_checkpoint_seq'), undefined)
    assert.equal(await meta.get('other'), '')
  })
})
