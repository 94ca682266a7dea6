// Preloaded into every thread of the relay (`node --import` in package.json's scripts, the `relay`
// script, the systemd unit and the image; Node passes it on to the verify workers and socket
// threads): turns on Node's compile cache, so each source file is type-stripped and compiled
// once per version of the file, not in every thread on every start.
// Why it matters: the first TypeScript file a thread loads makes that thread load Node's type
// stripper (a WebAssembly module), ~12–18 MB resident per thread for as long as it lives. With the
// cache warm no thread strips anything, so none loads it: an idle relay with two verify workers
// is ~40 MB smaller (BENCHMARKS.md, 2026-12-04, session 10). The first start after an install
// or an edit fills the cache; later starts read it.
// Where: NODE_COMPILE_CACHE when set (the unit and the image set it), else this install's
// node_modules/.cache/atproto-relay/compile. Not Node's own default, the system's temporary
// directory: there the first user to create it owns it, and Node checks an entry only against
// the source's checksum, so another local user could hand the relay code.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. A directory that cannot be written leaves the cache
// off and the relay as it was, only larger (`relay check` says so).
// JavaScript, not TypeScript: it must run before any TypeScript is stripped.
import { enableCompileCache, flushCompileCache, getCompileCacheDir } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * After start-up has loaded the code: written then, not only when the thread ends cleanly.
 * RELAY_COMPILE_CACHE_FLUSH_MS sets another delay (the test's, which cannot wait 30 s).
 */
const FLUSH_AFTER_MS = Number(process.env.RELAY_COMPILE_CACHE_FLUSH_MS) || 30_000

const INSTALL_CACHE = fileURLToPath(
  new URL('../../node_modules/.cache/atproto-relay/compile', import.meta.url),
)

// With NODE_COMPILE_CACHE set, Node has turned the cache on there already, in every thread, and
// this call changes nothing: the variable wins without being read here.
enableCompileCache(INSTALL_CACHE)
// A worker's entries are otherwise written only when it ends, which a killed relay never does.
if (getCompileCacheDir() !== undefined) setTimeout(flushCompileCache, FLUSH_AFTER_MS).unref()
