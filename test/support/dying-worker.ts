// Test support: a worker thread that says it is ready (as the archive's writer thread does once
// its connection is open) and ends with exit code 1 on the first message it gets, to test how a
// pool or a writer thread handles a thread that dies with work in hand.
import { parentPort } from 'node:worker_threads'

parentPort?.postMessage({ kind: 'ready' })
parentPort?.once('message', () => process.exit(1))
