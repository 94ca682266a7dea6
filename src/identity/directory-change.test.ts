// A change of PLC directory between two starts forgets the stored did:plc identities, on a real
// SQLite database: the first start with the key keeps what a database from before it holds, the
// same directory keeps everything, another deletes every did:plc row and no did:web row.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tempDatabase } from '../db/testing.ts'
import { DIRECTORY_KEY, forgetOtherDirectory } from './directory-change.ts'
import { identityRow as row } from './testing/identity-row.ts'

const PLC = ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb']
const WEB = ['did:web:example.com', 'did:web:plc.example.com']

describe('forgetOtherDirectory', () => {
  it('keeps the rows of the same directory and deletes the did:plc rows of another', async () => {
    await using t = await tempDatabase()
    const { db } = t
    await db.identities.upsertMany([...PLC, ...WEB].map(row))
    const stored = async () => {
      const out: string[] = []
      for (const did of [...PLC, ...WEB]) if (await db.identities.get(did)) out.push(did)
      return out
    }

    // A database from before the key: its rows' directory is unknown; they stay.
    assert.equal(await forgetOtherDirectory(db, 'https://plc.directory'), undefined)
    assert.equal(await db.meta.get(DIRECTORY_KEY), 'https://plc.directory')
    assert.deepEqual(await stored(), [...PLC, ...WEB])

    assert.equal(await forgetOtherDirectory(db, 'https://plc.directory'), undefined, 'same')
    assert.deepEqual(await stored(), [...PLC, ...WEB])

    assert.deepEqual(await forgetOtherDirectory(db, 'https://plc.mirror.example'), {
      previous: 'https://plc.directory',
      deleted: 2,
    })
    assert.deepEqual(await stored(), WEB, 'did:web identities do not come from the directory')
    assert.equal(await db.meta.get(DIRECTORY_KEY), 'https://plc.mirror.example')

    // Back to the first: what the mirror answered meanwhile goes too.
    await db.identities.upsertMany([row(PLC[0]!)])
    assert.deepEqual(await forgetOtherDirectory(db, 'https://plc.directory'), {
      previous: 'https://plc.mirror.example',
      deleted: 1,
    })
    assert.deepEqual(await stored(), WEB)
  })

  it('refuses a method name that is not one', async () => {
    await using t = await tempDatabase()
    assert.throws(() => t.db.identities.deleteMethod('plc:%'), TypeError)
  })
})
