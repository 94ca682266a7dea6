import assert from 'node:assert/strict'
import { hash } from 'node:crypto'
import { once } from 'node:events'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import { keypairFromSeed } from '../../../test/support/keypair.ts'
import { K256 } from './curves.ts'
import { NATIVE_VERIFY_OK } from './k256-binding.ts'
import { loadNativeSecp256k1 } from './k256-native.ts'

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex')}`)
const to32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')

describe('libsecp256k1 binding', () => {
  const loaded = loadNativeSecp256k1()

  it('loads the native binary (not the elliptic fallback) and passes its self-test', () => {
    assert.ok(loaded.ok, loaded.ok ? '' : String(loaded.error.cause))
    assert.equal(loadNativeSecp256k1(), loaded, 'memoised')
  })

  it('itself refuses high-S, and reports r >= n as a parse error (code 1)', () => {
    assert.ok(loaded.ok)
    const pair = keypairFromSeed('k256', new TextEncoder().encode('k256-native.test'))
    const digest = hash('sha256', 'hello', 'buffer')
    const sig = pair.signDigest(digest)
    const { ecdsaVerify } = loaded.binding
    const verify = ecdsaVerify.bind(loaded.binding)
    assert.equal(verify(sig, digest, pair.publicKey.compressed), NATIVE_VERIFY_OK, 'low-S')
    const high = Buffer.concat([
      sig.subarray(0, 32),
      to32(toBig(K256.order) - toBig(sig.subarray(32))),
    ])
    assert.equal(verify(high, digest, pair.publicKey.compressed), 3, 'high-S')
    const rTooBig = Buffer.concat([Buffer.from(K256.order), sig.subarray(32)])
    assert.equal(verify(rTooBig, digest, pair.publicKey.compressed), 1, 'r = n')
  })

  it('also loads inside a worker thread (verification runs in a worker pool)', async () => {
    const modulePath = join(import.meta.dirname, 'signature.ts')
    const source = `
      const { parentPort } = require('node:worker_threads')
      import(${JSON.stringify(modulePath)}).then(
        (m) => parentPort.postMessage(m.k256Backend),
        (e) => parentPort.postMessage(String(e)),
      )`
    const worker = new Worker(source, { eval: true })
    try {
      const [backend] = (await once(worker, 'message')) as [string]
      assert.equal(backend, 'libsecp256k1')
    } finally {
      await worker.terminate()
    }
  })
})
