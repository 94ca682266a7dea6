// Preloaded into every thread of the relay (`node --import` in package.json's start script, the
// `relay` script, the systemd unit and the image; Node passes it on to the verify workers and
// socket threads): turns on Node's compile cache, so each source file is type-stripped and
// compiled once per version of the file, not in every thread on every start.
// Why it matters: the first TypeScript file a thread loads makes that thread load Node's type
// stripper (a WebAssembly module), ~12–18 MB resident per thread for as long as it lives. With the
// cache warm no thread strips anything, so none loads it: an idle relay with two verify workers
// is ~40 MB smaller (BENCHMARKS.md, 2026-12-04). The first start after an install or an edit
// fills the cache; later starts read it.
// Where: NODE_COMPILE_CACHE when set, else Node's default (the system's temporary directory,
// node-compile-cache). NODE_DISABLE_COMPILE_CACHE=1 turns it off. A directory that cannot be
// written leaves the cache off and the relay as it was, only larger.
// JavaScript, not TypeScript: it must run before any TypeScript is stripped.
import { constants, enableCompileCache, flushCompileCache } from 'node:module'

/** After start-up has loaded the code: written then, not only at a clean exit. */
const FLUSH_AFTER_MS = 30_000

if (enableCompileCache().status === constants.compileCacheStatus.ENABLED) {
  setTimeout(flushCompileCache, FLUSH_AFTER_MS).unref()
}
