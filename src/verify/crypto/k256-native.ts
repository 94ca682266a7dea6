// Loads libsecp256k1: the system's library if there is one (k256-system.ts; a quarter faster than
// the bundled one), otherwise the `secp256k1` npm package's Node-API binding, explicitly via
// node-gyp-build on the package directory. The package's own entry point silently swaps in
// pure-JS `elliptic` when the binary does not load; we never go through it, so "native" here
// always means the C library, and a failure is reported (as an Error value) instead of hidden.
// After loading, a known-answer self-test must pass or the library counts as unavailable.
// Does not choose a backend, log, or check signature shape (see compact-signature.ts).

import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { NATIVE_VERIFY_OK, type NativeSecp256k1 } from './k256-binding.ts'
import {
  loadSystemSecp256k1,
  readSystemLibrarySetting,
  SYSTEM_LIBRARY_ENV,
  SystemLibraryError,
} from './k256-system.ts'

export type NativeLoadResult =
  | {
      readonly ok: true
      readonly binding: NativeSecp256k1
      /** Which libsecp256k1: `system <soname or path>` or `bundled (secp256k1 package)`. */
      readonly library: string
      /** Why the system library is not the one in use (undefined when it is). */
      readonly systemError?: SystemLibraryError
    }
  | { readonly ok: false; readonly error: Error }

// Known answer: the valid K-256 vector of the atproto interop signature fixtures.
const SELF_TEST = {
  publicKey: '03a7d7fbf04846fa1fcff728ba594f3c5819345e88908e874b537ba5a65d1fc3bb',
  digest: '785197229dc8bb1152945da58e2348f7e279eeded06cc2ca736d0e879858b501',
  sig:
    'e56a5d22e11451f55461aa33b22f06d01ddc58ed3d72065b208c20d6dd9829d5' +
    '27fc51339ce9ddb33fea82261bf3dcf0c5809b07bd5fef240ae4bafb35ab1fa0',
}

let loaded: NativeLoadResult | undefined

/**
 * Loads (once per thread) and self-tests libsecp256k1: the system's unless `RELAY_LIBSECP256K1`
 * says `bundled`, then the npm package's. Never throws.
 */
export function loadNativeSecp256k1(): NativeLoadResult {
  loaded ??= loadPreferringSystem(process.env[SYSTEM_LIBRARY_ENV])
  return loaded
}

/** The same choice for a given setting of `RELAY_LIBSECP256K1`, not cached (for tests). */
export function loadPreferringSystem(setting: string | undefined): NativeLoadResult {
  let systemError: SystemLibraryError
  const system = loadSystemSecp256k1(readSystemLibrarySetting(setting))
  if (system.ok) {
    try {
      selfTest(system.binding)
      return { ok: true, binding: system.binding, library: `system ${system.library}` }
    } catch (cause) {
      const message = `system ${system.library} failed its self-test`
      systemError = new SystemLibraryError('unusable', message, { cause })
    }
  } else systemError = system.error
  const bundled = loadBundled()
  return bundled.ok ? { ...bundled, systemError } : bundled
}

/** The `secp256k1` package's binding alone, self-tested. Never throws. */
export function loadBundled(): NativeLoadResult {
  try {
    const require = createRequire(import.meta.url)
    const packageJson = require.resolve('secp256k1/package.json')
    const nodeGypBuild: unknown = createRequire(packageJson)('node-gyp-build')
    if (typeof nodeGypBuild !== 'function') throw new Error('node-gyp-build is not a function')
    const addon: unknown = nodeGypBuild(dirname(packageJson))
    const binding = instantiate(addon)
    selfTest(binding)
    return { ok: true, binding, library: 'bundled (secp256k1 package)' }
  } catch (cause) {
    const error = new Error('libsecp256k1 native binding unavailable', { cause })
    return { ok: false, error }
  }
}

function instantiate(addon: unknown): NativeSecp256k1 {
  const Ctor: unknown =
    typeof addon === 'object' && addon !== null ? Reflect.get(addon, 'Secp256k1') : undefined
  if (typeof Ctor !== 'function') throw new Error('binding has no Secp256k1 constructor')
  const instance: unknown = Reflect.construct(Ctor, [])
  const verify: unknown =
    typeof instance === 'object' && instance !== null
      ? Reflect.get(instance, 'ecdsaVerify')
      : undefined
  if (typeof verify !== 'function') throw new Error('binding has no ecdsaVerify method')
  return instance as NativeSecp256k1
}

function selfTest(binding: NativeSecp256k1): void {
  const publicKey = Buffer.from(SELF_TEST.publicKey, 'hex')
  const digest = Buffer.from(SELF_TEST.digest, 'hex')
  const sig = Buffer.from(SELF_TEST.sig, 'hex')
  if (binding.ecdsaVerify(sig, digest, publicKey) !== NATIVE_VERIFY_OK) {
    throw new Error('self-test: known-good signature did not verify')
  }
  const flipped = Buffer.from(sig)
  flipped[10]! ^= 1
  if (binding.ecdsaVerify(flipped, digest, publicKey) === NATIVE_VERIFY_OK) {
    throw new Error('self-test: corrupted signature verified')
  }
  if (typeof binding.publicKeyVerify === 'function') {
    if (binding.publicKeyVerify(publicKey) !== 0) throw new Error('self-test: valid key refused')
    // x = p, the field's modulus: never a coordinate.
    const outside = Buffer.from(`02${'ff'.repeat(27)}fefffffc2f`, 'hex')
    if (binding.publicKeyVerify(outside) === 0) throw new Error('self-test: x = p accepted')
  }
  if (typeof binding.publicKeyConvert === 'function') {
    const point = new Uint8Array(65)
    if (
      binding.publicKeyConvert(point, publicKey) !== 0 ||
      binding.ecdsaVerify(sig, digest, point) !== NATIVE_VERIFY_OK
    ) {
      throw new Error('self-test: the uncompressed key does not verify')
    }
  }
}
