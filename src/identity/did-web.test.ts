import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { didWebDocumentUrl } from './did-web.ts'
import { DidResolutionError } from './errors.ts'

describe('didWebDocumentUrl', () => {
  const ok: [string, boolean, string][] = [
    ['did:web:example.com', false, 'https://example.com/.well-known/did.json'],
    ['did:web:Example.COM', false, 'https://example.com/.well-known/did.json'],
    ['did:web:sub.example.com', true, 'https://sub.example.com/.well-known/did.json'],
    ['did:web:localhost%3A2583', true, 'http://localhost:2583/.well-known/did.json'],
    ['did:web:127.0.0.1%3A2583', true, 'http://127.0.0.1:2583/.well-known/did.json'],
    ['did:web:localhost', true, 'https://localhost/.well-known/did.json'],
  ]
  for (const [did, insecure, url] of ok) {
    it(`${did} (insecure ${insecure}) → ${url}`, () => {
      assert.equal(didWebDocumentUrl(did, insecure), url, did)
    })
  }

  const bad: [string, boolean, string][] = [
    ['did:web:localhost%3A2583', false, 'insecure-not-allowed'],
    ['did:web:localhost', false, 'insecure-not-allowed'],
    ['did:web:127.0.0.1%3A2583', false, 'insecure-not-allowed'],
    ['did:web:example.com%3A8443', true, 'invalid-did'],
    ['did:web:example.com:user:alice', true, 'invalid-did'],
    ['did:web:printer.local', true, 'invalid-did'],
    ['did:web:10.0.0.1', true, 'invalid-did'],
    ['did:web:nodots', true, 'invalid-did'],
    ['did:web:%5B%3A%3A1%5D%3A2583', true, 'invalid-did'],
    ['did:plc:ewvi7nxzyoun6zhxrhs64oiz', true, 'invalid-did'],
  ]
  for (const [did, insecure, reason] of bad) {
    it(`${did} (insecure ${insecure}) → ${reason}`, () => {
      assert.throws(
        () => didWebDocumentUrl(did, insecure),
        (err: unknown) => err instanceof DidResolutionError && err.reason === reason,
        did,
      )
    })
  }
})
