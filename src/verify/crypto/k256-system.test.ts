import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { hash, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, it } from 'node:test'
import { keypairFromSeed } from '../../../test/support/keypair.ts'
import { K256 } from './curves.ts'
import type { NativeSecp256k1 } from './k256-binding.ts'
import { loadBundled, loadPreferringSystem } from './k256-native.ts'
import {
  installIllegalCallback,
  type Koffi,
  loadSystemSecp256k1,
  readSystemLibrarySetting,
  SYSTEM_SONAMES,
  SystemLibraryError,
  systemLibraryNames,
} from './k256-system.ts'

/** Whether the dynamic linker knows a libsecp256k1 (CI installs Debian's; a bare machine may not). */
function systemLibraryInstalled(): boolean {
  // Not on a plain user's PATH on Debian.
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      return /libsecp256k1\.so\.\d/.test(execFileSync(ldconfig, ['-p'], { encoding: 'utf8' }))
    } catch {}
  }
  return false
}

const installed = systemLibraryInstalled()
const skip = installed ? false : 'no libsecp256k1 installed on this machine'
const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`)
const to32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')

describe('system libsecp256k1: which library is loaded', () => {
  it('reads RELAY_LIBSECP256K1: unset or auto tries the sonames, bundled skips, else one name', () => {
    const names = (value: string | undefined) => systemLibraryNames(readSystemLibrarySetting(value))
    assert.deepEqual(names(undefined), SYSTEM_SONAMES)
    assert.deepEqual(names(' auto '), SYSTEM_SONAMES)
    assert.deepEqual(names('bundled'), [])
    assert.deepEqual(names('off'), [])
    assert.deepEqual(names('/opt/secp/libsecp256k1.so'), ['/opt/secp/libsecp256k1.so'])
    assert.deepEqual(readSystemLibrarySetting(' off '), { kind: 'bundled', value: 'off' })
  })

  it('falls back to the bundled binding, saying why, when the named library does not load', () => {
    const loaded = loadPreferringSystem('/nowhere/libsecp256k1.so')
    assert.ok(loaded.ok)
    assert.equal(loaded.library, 'bundled (secp256k1 package)')
    assert.match(String(loaded.systemError?.message), /\/nowhere\/libsecp256k1\.so/)
    assert.equal(loaded.systemError?.reason, 'unusable', 'the operator named it')
    const none = loadPreferringSystem('libsecp256k1.so.99')
    assert.ok(none.ok)
    assert.equal(none.systemError?.reason, 'unusable')
    const skipped = loadPreferringSystem('off')
    assert.ok(skipped.ok)
    assert.equal(skipped.library, 'bundled (secp256k1 package)')
    assert.equal(skipped.systemError?.message, 'skipped (RELAY_LIBSECP256K1=off)')
    assert.equal(skipped.systemError?.reason, 'skipped')
  })

  it('a library without the functions is refused, not half-bound', () => {
    // libc opens but has no secp256k1_* symbols.
    const loaded = loadSystemSecp256k1({ kind: 'named', name: 'libc.so.6' })
    assert.ok(!loaded.ok)
    assert.equal(loaded.error.reason, 'unusable')
    assert.match(loaded.error.message, /libc\.so\.6: .*secp256k1_context_create/)
  })

  it('prefers the installed system library to the bundled one', { skip }, () => {
    const loaded = loadPreferringSystem(undefined)
    assert.ok(loaded.ok)
    assert.match(loaded.library, /^system libsecp256k1\.so\.\d$/)
    assert.equal(loaded.systemError, undefined)
  })
})

describe('system libsecp256k1 answers as the bundled binding does', { skip }, () => {
  const system = loadSystemSecp256k1({ kind: 'auto' })
  const bundled = loadBundled()
  const pair = keypairFromSeed('k256', new TextEncoder().encode('k256-system.test'))
  const digest = hash('sha256', 'hello', 'buffer')
  const sig = pair.signDigest(digest)
  const key = pair.publicKey.compressed
  const both = (): Array<readonly [string, NativeSecp256k1]> => {
    assert.ok(system.ok, system.ok ? '' : system.error.message)
    assert.ok(bundled.ok)
    return [
      ['system', system.binding],
      ['bundled', bundled.binding],
    ]
  }

  it('verifies, refuses high-S (3), r >= n (1), a bad key (2), wrong lengths (1 or 2)', () => {
    const high = Buffer.concat([
      sig.subarray(0, 32),
      to32(toBig(K256.order) - toBig(sig.subarray(32))),
    ])
    const rIsN = Buffer.concat([Buffer.from(K256.order), sig.subarray(32)])
    const offCurve = Buffer.from(`02${'ff'.repeat(27)}fefffffc2f`, 'hex') // x = p
    for (const [name, lib] of both()) {
      assert.equal(lib.ecdsaVerify(sig, digest, key), 0, `${name}: valid`)
      assert.equal(lib.ecdsaVerify(high, digest, key), 3, `${name}: high-S`)
      assert.equal(lib.ecdsaVerify(rIsN, digest, key), 1, `${name}: r = n`)
      assert.equal(lib.ecdsaVerify(sig, digest, offCurve), 2, `${name}: x = p`)
      assert.equal(lib.publicKeyVerify?.(offCurve), 1, `${name}: x = p is no key`)
      assert.equal(lib.publicKeyVerify?.(key), 0, `${name}: the key is a key`)
    }
    const lib = both()[0]![1]
    const zeroR = Buffer.concat([Buffer.alloc(32), sig.subarray(32)])
    const zeroS = Buffer.concat([sig.subarray(0, 32), Buffer.alloc(32)])
    assert.equal(lib.ecdsaVerify(zeroR, digest, key), 3, 'r = 0')
    assert.equal(lib.ecdsaVerify(zeroS, digest, key), 3, 's = 0')
    assert.equal(lib.ecdsaVerify(sig.subarray(0, 63), digest, key), 1, 'short signature')
    assert.equal(lib.ecdsaVerify(sig, digest.subarray(0, 31), key), 1, 'short digest')
    assert.equal(lib.ecdsaVerify(sig, digest, key.subarray(0, 32)), 2, 'short key')
    assert.equal(lib.publicKeyVerify?.(new Uint8Array(64)), 1, '64 bytes is no key encoding')
  })

  it('converts keys both ways, the same bytes as the bundled binding', () => {
    const [[, sys], [, bun]] = both() as [[string, NativeSecp256k1], [string, NativeSecp256k1]]
    const a = new Uint8Array(65)
    const b = new Uint8Array(65)
    assert.equal(sys.publicKeyConvert?.(a, key), 0)
    assert.equal(bun.publicKeyConvert?.(b, key), 0)
    assert.deepEqual(a, b)
    assert.equal(a[0], 4)
    const back = new Uint8Array(33)
    assert.equal(sys.publicKeyConvert?.(back, a), 0)
    assert.deepEqual(back, key)
    assert.equal(sys.publicKeyConvert?.(new Uint8Array(40), key), 1, 'no such encoding')
    assert.equal(sys.ecdsaVerify(sig, digest, a), 0, 'verifies with the uncompressed key')
  })

  it('reads views at their offset in a larger buffer, as the relay hands them', () => {
    const [[, sys]] = both() as [[string, NativeSecp256k1]]
    const pool = Buffer.alloc(7 + 64 + 5 + 32 + 3 + 33, 0xee)
    const sigView = pool.subarray(7, 71)
    const digestView = pool.subarray(76, 108)
    const keyView = pool.subarray(111, 144)
    sigView.set(sig)
    digestView.set(digest)
    keyView.set(key)
    assert.equal(sys.ecdsaVerify(sigView, digestView, keyView), 0)
    pool[6]! ^= 1 // the byte before the signature: not read
    pool[144 - 34]! ^= 1 // the byte before the key: not read
    assert.equal(sys.ecdsaVerify(sigView, digestView, keyView), 0)
    digestView[0]! ^= 1
    assert.equal(sys.ecdsaVerify(sigView, digestView, keyView), 3)
    const out = pool.subarray(0, 65)
    assert.equal(sys.publicKeyConvert?.(new Uint8Array(out.buffer, out.byteOffset + 1, 33), key), 0)
  })

  it('refuses what is not a byte array of the right length, without calling the library', () => {
    const [[, sys]] = both() as [[string, NativeSecp256k1]]
    const notBytes = 12345 as unknown as Uint8Array
    assert.equal(sys.ecdsaVerify(notBytes, digest, key), 1)
    assert.equal(sys.ecdsaVerify(sig, notBytes, key), 1)
    assert.equal(sys.ecdsaVerify(sig, digest, notBytes), 2)
    assert.equal(sys.publicKeyVerify?.(new Uint8Array(0)), 1)
  })

  it('agrees with the bundled binding on 300 random keys, digests and corruptions', () => {
    const [[, sys], [, bun]] = both() as [[string, NativeSecp256k1], [string, NativeSecp256k1]]
    for (let i = 0; i < 300; i++) {
      const p = keypairFromSeed('k256', randomBytes(16))
      const d = randomBytes(32)
      const s = Buffer.from(p.signDigest(d))
      if (i % 3 === 1) s[i % 64]! ^= 1 << (i % 8)
      const k = i % 2 === 0 ? p.publicKey.compressed : randomBytes(33).fill(2, 0, 1)
      const want = bun.ecdsaVerify(s, d, k)
      assert.equal(sys.ecdsaVerify(s, d, k), want, `case ${i}`)
      if (i % 3 === 0 && i % 2 === 0) assert.equal(want, 0, `case ${i} is a valid signature`)
    }
  })
})

describe('system libsecp256k1: an illegal argument fails the call, not the process', {
  skip,
}, () => {
  // libsecp256k1's default answer to an illegal argument is abort(). These calls go straight to
  // the library (not through the binding's guards) to show the installed callback takes over.
  const koffi = createRequire(import.meta.url)('koffi') as Koffi
  const found = loadSystemSecp256k1({ kind: 'auto' })
  const soname = found.ok ? found.library : ''
  const lib = () => koffi.load(soname)
  const contextCreate = () => lib().func('void* secp256k1_context_create(unsigned int flags)')
  const serialize = () =>
    lib().func(
      'int secp256k1_ec_pubkey_serialize(void* ctx, _Out_ uint8_t* output, _Inout_ size_t* outputlen, const uint8_t* pubkey, unsigned int flags)',
    )
  const illegalSerialize = (ctx: unknown) => () =>
    serialize()(ctx, new Uint8Array(65), [65], new Uint8Array(64), 0)

  type NativeFunction = ReturnType<ReturnType<Koffi['load']>['func']>
  /** koffi as the loader sees it, with `register` and each bound function passed through the
   * given wrappers. */
  const spyKoffi = (wrap: {
    register?: (callback: (message: string) => void) => void
    func?: (name: string, fn: NativeFunction) => NativeFunction
  }): Koffi => ({
    ...koffi,
    proto: (...args) => koffi.proto(...args),
    pointer: (type) => koffi.pointer(type),
    unregister: (r) => koffi.unregister(r),
    register(callback, type) {
      wrap.register?.(callback)
      return koffi.register(callback, type)
    },
    load(name) {
      const real = koffi.load(name)
      return {
        func(...args: [string] | [string, string, readonly unknown[]]) {
          const fn = args.length === 1 ? real.func(args[0]) : real.func(...args)
          return wrap.func ? wrap.func(args[0], fn) : fn
        },
      }
    },
  })

  it('the loader installs the callback in every binding it makes', () => {
    assert.ok(found.ok, found.ok ? '' : found.error.message)
    let registered = 0
    const bound: string[] = []
    const spy = spyKoffi({
      register: () => registered++,
      func: (name, fn) => {
        bound.push(name)
        return fn
      },
    })
    const loaded = loadSystemSecp256k1({ kind: 'named', name: soname }, () => spy)
    assert.ok(loaded.ok)
    assert.equal(registered, 1)
    assert.ok(bound.includes('secp256k1_context_set_illegal_callback'), bound.join(', '))
  })

  it('a call the library refuses through the callback after load throws, not a wrong answer', () => {
    const pair = keypairFromSeed('k256', new TextEncoder().encode('k256-system refusal'))
    const digest = hash('sha256', 'refusal', 'buffer')
    const sig = pair.signDigest(digest)
    const key = pair.publicKey.compressed
    // The key parse is made to do what a refused argument does: call the callback, answer 0.
    let callback: ((message: string) => void) | undefined
    let refuse = false
    const spy = spyKoffi({
      register: (cb) => {
        callback = cb
      },
      func: (name, fn) =>
        !name.includes('secp256k1_ec_pubkey_parse(')
          ? fn
          : (...call: unknown[]) => {
              if (!refuse) return fn(...call)
              callback?.('a test of the refusal')
              return 0
            },
    })
    const loaded = loadSystemSecp256k1({ kind: 'named', name: soname }, () => spy)
    assert.ok(loaded.ok)
    const { binding } = loaded
    assert.equal(binding.ecdsaVerify(sig, digest, key), 0)
    refuse = true
    assert.throws(
      () => binding.publicKeyVerify?.(key),
      /refused an argument: a test of the refusal/,
    )
    assert.throws(() => binding.ecdsaVerify(sig, digest, key), SystemLibraryError)
    refuse = false
    assert.equal(binding.ecdsaVerify(sig, digest, key), 0, 'nothing left over from the refusal')
  })

  it('an illegal flag returns 0 through the callback, which says why, every time', () => {
    const ctx = contextCreate()(0x101)
    const illegal = installIllegalCallback(koffi, lib(), ctx, illegalSerialize(ctx))
    assert.equal(illegal.take(), null, 'the probe is not reported as a later call')
    for (let i = 0; i < 2; i++) {
      assert.equal(illegalSerialize(ctx)(), 0)
      assert.match(String(illegal.take()), /SECP256K1_FLAGS_TYPE_COMPRESSION/)
      assert.equal(illegal.take(), null)
    }
  })

  it('refuses a library whose probe is not refused through the callback', () => {
    const ctx = contextCreate()(0x101)
    // A legal call: the callback is never called, as with a library that ignores it.
    assert.throws(
      () => installIllegalCallback(koffi, lib(), ctx, () => 0),
      /does not report illegal arguments/,
    )
    // Reported, but the call answered as if it had succeeded.
    const other = contextCreate()(0x101)
    assert.throws(
      () =>
        installIllegalCallback(koffi, lib(), other, () => {
          illegalSerialize(other)()
          return 1
        }),
      /does not report illegal arguments/,
    )
  })

  it('without the callback the same call aborts the process (what the binding prevents)', () => {
    const script = `const koffi = require(${JSON.stringify(createRequire(import.meta.url).resolve('koffi'))});
const lib = koffi.load(${JSON.stringify(soname)});
const ctx = lib.func('void* secp256k1_context_create(unsigned int flags)')(0x101);
lib.func('int secp256k1_ec_pubkey_serialize(void* ctx, _Out_ uint8_t* o, _Inout_ size_t* n, const uint8_t* k, unsigned int f)')(ctx, new Uint8Array(65), [65], new Uint8Array(64), 0);
console.log('survived');`
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    assert.equal(run.signal, 'SIGABRT', `status ${run.status}, stdout ${run.stdout}`)
  })
})
