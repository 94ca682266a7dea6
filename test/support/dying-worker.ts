// Test support: a worker thread that ends with exit code 1 on the first message it gets, to test
// how a pool or a writer thread handles a thread that dies with work in hand.
import { parentPort } from 'node:worker_threads'

parentPort?.once('message', () => process.exit(1))
