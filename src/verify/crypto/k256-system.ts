// libsecp256k1 as the operating system ships it (Debian's `libsecp256k1-1` and later), called
// through `koffi`, a foreign-function library with prebuilt binaries for every platform npm
// serves. Why: the `secp256k1` npm package's prebuilt binding carries a libsecp256k1 of 2019, and
// no package on npm ships a newer one prebuilt. Debian 12's 0.2.0 verifies a k256 signature in
// ~36 µs against the bundled library's ~48 µs (the same key and signature, from Node, on the
// 2-core dev box): a quarter of the check, the largest single cost of a verify worker.
// Which library: `RELAY_LIBSECP256K1` unset or `auto` tries the sonames below, newest first;
// `bundled` (or `off`) skips the system library; anything else is the one file or name to load.
// The functions used (context, key parse and serialise, compact signature parse, verify) have
// kept their signatures in every release since 0.1, so any version that loads answers the same;
// k256-native.ts self-tests it before use all the same.
// libsecp256k1 answers an illegal argument (a flag it does not know, a missing output) by calling
// its context's illegal-argument callback, which by default aborts the process. The binding
// installs one of its own, proven by one illegal call at load: from then on such an argument
// makes the call throw a `SystemLibraryError` (the event's verification fails, and is logged)
// instead of aborting. The relay checks every argument it passes, so this is a guard against its
// own bugs and odd builds; a library that ignores the callback still aborts on that first call,
// at load, and one whose structs are laid out differently can still crash it.
// Deliberately not here: choosing between this and the bundled binding (k256-native.ts), the
// signature's shape rules (compact-signature.ts), logging.
import { createRequire } from 'node:module'
import type { NativeSecp256k1 } from './k256-binding.ts'

/** The environment variable naming the system library, or `bundled` to skip it. */
export const SYSTEM_LIBRARY_ENV = 'RELAY_LIBSECP256K1'

/** Sonames tried when the environment names none, newest ABI first: the soname's number has
 * moved with the ABI (0.2.0 is `.so.1`, 0.3-0.5 `.so.2`, 0.6 `.so.5`, 0.7 `.so.6`, 0.8 `.so.7`);
 * a name that is not installed costs one failed lookup. */
export const SYSTEM_SONAMES: readonly string[] = [
  'libsecp256k1.so.9',
  'libsecp256k1.so.8',
  'libsecp256k1.so.7',
  'libsecp256k1.so.6',
  'libsecp256k1.so.5',
  'libsecp256k1.so.4',
  'libsecp256k1.so.3',
  'libsecp256k1.so.2',
  'libsecp256k1.so.1',
  'libsecp256k1.dylib',
]

/** How `RELAY_LIBSECP256K1` reads: search the sonames, skip, or load the one named. */
export type SystemLibrarySetting =
  | { readonly kind: 'auto' }
  | { readonly kind: 'bundled'; readonly value: string }
  | { readonly kind: 'named'; readonly name: string }

const AUTO_VALUES: readonly string[] = ['', 'auto']
const BUNDLED_VALUES: readonly string[] = ['bundled', 'off']

export function readSystemLibrarySetting(setting: string | undefined): SystemLibrarySetting {
  const value = setting?.trim() ?? ''
  if (AUTO_VALUES.includes(value)) return { kind: 'auto' }
  if (BUNDLED_VALUES.includes(value)) return { kind: 'bundled', value }
  return { kind: 'named', name: value }
}

/** What to try: nothing (skipped), or the names in order. */
export function systemLibraryNames(setting: SystemLibrarySetting): readonly string[] {
  if (setting.kind === 'auto') return SYSTEM_SONAMES
  return setting.kind === 'named' ? [setting.name] : []
}

/** Why the system library is not in use: callers log `not-installed` quietly, `unusable` (an
 * installed library that fails, or one the operator named that does not load) loudly. */
export const SYSTEM_LIBRARY_FAILURES = ['skipped', 'not-installed', 'unusable'] as const
export type SystemLibraryFailure = (typeof SYSTEM_LIBRARY_FAILURES)[number]

export class SystemLibraryError extends Error {
  override readonly name = 'SystemLibraryError'
  readonly reason: SystemLibraryFailure

  constructor(reason: SystemLibraryFailure, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

export type SystemLoadResult =
  | { readonly ok: true; readonly binding: NativeSecp256k1; readonly library: string }
  | { readonly ok: false; readonly error: SystemLibraryError }

// secp256k1_context_create's flags: SECP256K1_FLAGS_TYPE_CONTEXT with the (since 0.2.0 ignored)
// verify bit, so that older libraries precompute what verification needs.
const CONTEXT_VERIFY = (1 << 0) | (1 << 8)
// secp256k1_ec_pubkey_serialize's flags (SECP256K1_EC_UNCOMPRESSED, SECP256K1_EC_COMPRESSED). A
// flag outside these is an illegal argument, reported through the context's callback.
const SERIALIZE_UNCOMPRESSED = 1 << 1
const SERIALIZE_COMPRESSED = (1 << 1) | (1 << 8)
/** No compression type bit: an illegal argument, used once to prove the callback is called. */
const ILLEGAL_SERIALIZE_FLAGS = 0
/** The library's opaque parsed key and signature structs are 64 bytes each. */
const STRUCT_BYTES = 64

type NativeFunction = (...args: unknown[]) => unknown

export interface KoffiLibrary {
  func(signature: string): NativeFunction
  func(name: string, result: string, args: readonly unknown[]): NativeFunction
}

export interface Koffi {
  load(path: string): KoffiLibrary
  proto(name: null, result: string, args: readonly string[]): unknown
  pointer(type: unknown): unknown
  register(callback: (message: string) => void, type: unknown): unknown
  unregister(registered: unknown): void
}

const requireKoffi = (): Koffi => createRequire(import.meta.url)('koffi') as Koffi

/** Loads the first library the setting names that opens, binding the five functions the relay
 * calls. `loadKoffi` is for tests. */
export function loadSystemSecp256k1(
  setting: SystemLibrarySetting,
  loadKoffi: () => Koffi = requireKoffi,
): SystemLoadResult {
  if (setting.kind === 'bundled') {
    const message = `skipped (${SYSTEM_LIBRARY_ENV}=${setting.value})`
    return { ok: false, error: new SystemLibraryError('skipped', message) }
  }
  const names = systemLibraryNames(setting)
  let koffi: Koffi
  try {
    koffi = loadKoffi()
  } catch (cause) {
    return { ok: false, error: new SystemLibraryError('unusable', 'koffi did not load', { cause }) }
  }
  const failures: Error[] = []
  for (const name of names) {
    try {
      return { ok: true, binding: bind(koffi, koffi.load(name)), library: name }
    } catch (err) {
      failures.push(new Error(`${name}: ${err instanceof Error ? err.message : String(err)}`))
    }
  }
  const cause = new AggregateError(failures, 'each library tried')
  // None installed is the usual case and needs no dynamic loader's wording per name; a library
  // the operator named is expected to be there, so its absence is `unusable`.
  const absent = failures.every((f) => f.message.includes('cannot open shared object file'))
  if (absent && setting.kind === 'auto') {
    const message = `no system libsecp256k1 (none installed: tried ${names.join(', ')})`
    return { ok: false, error: new SystemLibraryError('not-installed', message, { cause }) }
  }
  const message = `no usable system libsecp256k1 (${failures.map((f) => f.message).join('; ')})`
  return { ok: false, error: new SystemLibraryError('unusable', message, { cause }) }
}

function bind(koffi: Koffi, lib: KoffiLibrary): NativeSecp256k1 {
  const contextCreate = lib.func('void* secp256k1_context_create(unsigned int flags)')
  const keyParse = lib.func(
    'int secp256k1_ec_pubkey_parse(void* ctx, _Out_ uint8_t* pubkey, const uint8_t* input, size_t inputlen)',
  )
  const keySerialize = lib.func(
    'int secp256k1_ec_pubkey_serialize(void* ctx, _Out_ uint8_t* output, _Inout_ size_t* outputlen, const uint8_t* pubkey, unsigned int flags)',
  )
  const signatureParse = lib.func(
    'int secp256k1_ecdsa_signature_parse_compact(void* ctx, _Out_ uint8_t* sig, const uint8_t* input64)',
  )
  const verify = lib.func(
    'int secp256k1_ecdsa_verify(void* ctx, const uint8_t* sig, const uint8_t* msghash32, const uint8_t* pubkey)',
  )
  // One context for the thread's life: verification only reads it. Calls are synchronous, so
  // the parsed structs can live in two buffers this thread reuses.
  const ctx = contextCreate(CONTEXT_VERIFY)
  if (ctx === null) throw new Error('secp256k1_context_create returned null')
  const parsedKey = new Uint8Array(STRUCT_BYTES)
  const parsedSig = new Uint8Array(STRUCT_BYTES)
  const outputLength = [0]
  const illegal = installIllegalCallback(koffi, lib, ctx, () =>
    keySerialize(ctx, new Uint8Array(65), [65], parsedKey, ILLEGAL_SERIALIZE_FLAGS),
  )
  // A call the library refused: through the callback (a bug of ours, or an odd build) it throws,
  // else it is the answer. Only refusals are asked about, so a valid check costs nothing more.
  const refused = (code: number): number => {
    const message = illegal.take()
    if (message === null) return code
    throw new SystemLibraryError('unusable', `libsecp256k1 refused an argument: ${message}`)
  }
  // koffi would take a number or a BigInt as a raw address: only byte arrays of the length the
  // library reads reach it.
  const sized = (bytes: Uint8Array, length: number): boolean =>
    bytes instanceof Uint8Array && bytes.length === length
  const parse = (publicKey: Uint8Array): boolean => {
    if (!sized(publicKey, 33) && !sized(publicKey, 65)) return false
    if (keyParse(ctx, parsedKey, publicKey, publicKey.length) === 1) return true
    refused(0)
    return false
  }
  // The same answers as the bundled binding (k256-binding.ts names the codes). Every length is
  // checked before a call: the library reads as many bytes as its types say.
  return {
    ecdsaVerify(sig, msg32, publicKey) {
      if (!sized(sig, 64) || !sized(msg32, 32)) return 1
      if (signatureParse(ctx, parsedSig, sig) !== 1) return refused(1)
      if (!parse(publicKey)) return 2
      return verify(ctx, parsedSig, msg32, parsedKey) === 1 ? 0 : refused(3)
    },
    publicKeyVerify(publicKey) {
      return parse(publicKey) ? 0 : 1
    },
    publicKeyConvert(output, publicKey) {
      if (!sized(output, 65) && !sized(output, 33)) return 1
      if (!parse(publicKey)) return 1
      const flags = output.length === 65 ? SERIALIZE_UNCOMPRESSED : SERIALIZE_COMPRESSED
      outputLength[0] = output.length
      if (keySerialize(ctx, output, outputLength, parsedKey, flags) !== 1) return refused(1)
      return outputLength[0] === output.length ? 0 : 1
    },
  }
}

/** The message the library last reported through the installed callback, cleared as read. */
export interface IllegalArguments {
  take(): string | null
}

/**
 * Replaces the context's illegal-argument callback (abort) with one that records the message,
 * then makes one illegal call (`probe`) to prove the library calls it: from then on a misuse
 * makes the call fail (the library returns 0, and `take` says why) instead of aborting. Throws
 * when the probe is not refused through the callback; the default callback is put back then and
 * the library is left unused. A working callback stays registered for the context's life, the
 * thread's, and is released when the thread ends (koffi's callback slots are counted per
 * process, and verify workers come and go).
 */
export function installIllegalCallback(
  koffi: Koffi,
  lib: KoffiLibrary,
  ctx: unknown,
  probe: () => unknown,
): IllegalArguments {
  const callbackType = koffi.proto(null, 'void', ['const char *', 'void *'])
  const setIllegalCallback = lib.func('secp256k1_context_set_illegal_callback', 'void', [
    'void *',
    koffi.pointer(callbackType),
    'void *',
  ])
  let illegal: string | null = null
  const registered = koffi.register((message: string) => {
    illegal = message
  }, koffi.pointer(callbackType))
  const release = (): void => {
    setIllegalCallback(ctx, null, null)
    koffi.unregister(registered)
  }
  setIllegalCallback(ctx, registered, null)
  let answer: unknown
  try {
    answer = probe()
  } catch (err) {
    release()
    throw err
  }
  if (answer !== 0 || illegal === null) {
    release()
    throw new Error('the library does not report illegal arguments through its callback')
  }
  illegal = null
  releaseAtExit(() => koffi.unregister(registered))
  return {
    take() {
      const message = illegal
      illegal = null
      return message
    },
  }
}

// One exit listener per thread for all its registrations (tests load the library many times).
const atExit: (() => void)[] = []

function releaseAtExit(release: () => void): void {
  if (atExit.length === 0) {
    process.once('exit', () => {
      for (const r of atExit.splice(0)) r()
    })
  }
  atExit.push(release)
}
