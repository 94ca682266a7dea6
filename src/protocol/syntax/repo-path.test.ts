import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidSyntaxError } from './errors.ts'
import { isValidRepoPath, parseRepoPath } from './repo-path.ts'

describe('repo paths', () => {
  it('parses collection and record key', () => {
    assert.deepEqual(parseRepoPath('app.bsky.feed.post/3jzfcijpj2z2a'), {
      collection: 'app.bsky.feed.post',
      rkey: '3jzfcijpj2z2a',
    })
    assert.deepEqual(parseRepoPath('app.bsky.actor.profile/self'), {
      collection: 'app.bsky.actor.profile',
      rkey: 'self',
    })
    assert.deepEqual(parseRepoPath('com.example.thing/literal:self'), {
      collection: 'com.example.thing',
      rkey: 'literal:self',
    })
  })

  const invalid = [
    '',
    'app.bsky.feed.post',
    'app.bsky.feed.post/',
    '/3jzfcijpj2z2a',
    'app.bsky.feed.post/a/b',
    'app.bsky.feed.post//a',
    'app.bsky/3jzfcijpj2z2a',
    'app.bsky.feed.post/..',
    'app.bsky.feed.post/.',
    'app.bsky.feed.post/a b',
    'app.bsky.feed.post/3jzfcijpj2z2a ',
    `app.bsky.feed.post/${'o'.repeat(513)}`,
  ]
  for (const path of invalid) {
    it(`rejects ${JSON.stringify(path.slice(0, 40))}`, () => {
      assert.equal(isValidRepoPath(path), false, path)
      assert.throws(
        () => parseRepoPath(path),
        (err) =>
          err instanceof InvalidSyntaxError && err.kind === 'repo-path' && err.value === path,
        path,
      )
    })
  }

  it('accepts the longest parts', () => {
    assert.equal(isValidRepoPath(`app.bsky.feed.post/${'o'.repeat(512)}`), true)
  })
})
