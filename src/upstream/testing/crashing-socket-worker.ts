// The real socket thread, which also fails (an uncaught error) when asked to dial a URL that
// ends in `/crash-thread`: what a socket thread's death does to its lines, tested for real.
// Deliberately not here: anything else the thread does (socket-worker.ts).
import { parentPort } from 'node:worker_threads'
import '../socket-worker.ts'
import type { ToSocketThread } from '../socket-messages.ts'

parentPort?.on('message', (msg: ToSocketThread) => {
  if (msg.op === 'open' && msg.dial.url.endsWith('/crash-thread')) {
    setImmediate(() => {
      throw new Error('the test crashed this thread')
    })
  }
})
