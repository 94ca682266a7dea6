// subscribeRepos parameters: every cursor a consumer may send is either a non-negative safe
// integer or refused with a 400 that names the parameter, before any upgrade.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SUBSCRIBE_PATH, subscribeParams } from './subscribe-params.ts'

const at = (query: string) => subscribeParams(`${SUBSCRIBE_PATH}${query}`)

test('no cursor, an empty one, and non-negative integers up to 2^53 - 1 are accepted', () => {
  assert.deepEqual(at(''), { ok: true, cursor: undefined })
  assert.deepEqual(at('?cursor='), { ok: true, cursor: undefined })
  assert.deepEqual(at('?cursor=0'), { ok: true, cursor: 0 })
  assert.deepEqual(at('?cursor=42'), { ok: true, cursor: 42 })
  assert.deepEqual(at('?cursor=9007199254740991'), { ok: true, cursor: 2 ** 53 - 1 })
})

test('anything else is a 400 naming the cursor', () => {
  for (const bad of [
    '-1',
    'abc',
    '1.5',
    '1e3',
    '0x10',
    '+1',
    '%201',
    '9007199254740992',
    '18446744073709551616',
    '9'.repeat(5000),
  ]) {
    const p = at(`?cursor=${bad}`)
    assert.equal(p.ok, false, bad)
    if (!p.ok) {
      assert.equal(p.status, 400)
      assert.equal(p.error, 'InvalidRequest')
      assert.match(p.message, /cursor/)
    }
  }
})

test('a cursor given twice is refused whatever the order (one of two positions would be a guess)', () => {
  // Before, the first value won: `cursor=5&cursor=abc` was served from 5 while
  // `cursor=abc&cursor=5` was refused, and `cursor=5&cursor=900` silently dropped one position.
  for (const query of ['?cursor=5&cursor=abc', '?cursor=abc&cursor=5', '?cursor=5&cursor=900']) {
    const p = at(query)
    assert.equal(p.ok, false, query)
    if (!p.ok) {
      assert.equal(p.status, 400)
      assert.match(p.message, /cursor.*once/)
    }
  }
  assert.deepEqual(at('?cursor=7&other=1&other=2'), { ok: true, cursor: 7 })
})

test('other paths and malformed targets', () => {
  assert.deepEqual(subscribeParams('/xrpc/other'), {
    ok: false,
    status: 404,
    error: 'NotFound',
    message: 'no such route',
  })
  assert.equal(subscribeParams('//a:b').ok, false)
})
