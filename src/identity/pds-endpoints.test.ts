import assert from 'node:assert/strict'
import { test } from 'node:test'
import { endpointHost, sharedEndpoint } from './pds-endpoints.ts'

test('endpointHost: host and port, lowercased, the same when asked again; null for non-URLs', () => {
  for (let round = 0; round < 2; round++) {
    assert.equal(endpointHost('https://PDS.Example.com'), 'pds.example.com')
    assert.equal(endpointHost('http://127.0.0.1:2583/'), '127.0.0.1:2583')
    assert.equal(endpointHost('not a url'), null)
    assert.equal(endpointHost(null), null)
    assert.equal(endpointHost(''), null)
  }
})

test('sharedEndpoint: one string per endpoint, equal to what was given', () => {
  const a = sharedEndpoint(['https://pds', 'example.com'].join('.'))
  const b = sharedEndpoint(['https://pds', 'example.com'].join('.'))
  assert.equal(a, 'https://pds.example.com')
  assert.equal(b, a)
})
