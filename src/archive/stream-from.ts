// A producer that pushes chunks from inside a callback (a repo export written out while a read
// transaction is held) turned into an async iterator the HTTP layer pulls from, with back-pressure:
// the producer waits while two chunks are not yet taken. A consumer that stops early (the client
// went away: `for await` calls `return()`) makes the next push answer false, so the producer ends
// and its transaction closes; `return()` resolves once it has. A producer's failure is thrown by
// the next `next()` once the chunks before it are taken.
// Deliberately not here: what is produced (mirror.ts).

/** Chunks pushed and not yet taken before the producer waits. */
const HIGH_WATER = 2

export function streamFrom<T>(
  produce: (push: (chunk: T) => Promise<boolean>) => Promise<void>,
): AsyncIterableIterator<T> {
  const queue: T[] = []
  let done = false
  let stopped = false
  let failure: { error: unknown } | undefined
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined
  const consumerWake = () => {
    wakeConsumer?.()
    wakeConsumer = undefined
  }
  const producerWake = () => {
    wakeProducer?.()
    wakeProducer = undefined
  }
  const push = async (chunk: T): Promise<boolean> => {
    if (stopped) return false
    queue.push(chunk)
    consumerWake()
    while (queue.length >= HIGH_WATER && !stopped) {
      await new Promise<void>((resolve) => (wakeProducer = resolve))
    }
    return !stopped
  }
  const finished = produce(push)
    .catch((error: unknown) => {
      failure = { error }
    })
    .finally(() => {
      done = true
      consumerWake()
    })
  const iterator: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => iterator,
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (queue.length > 0) {
          const value = queue.shift()!
          producerWake()
          return { value, done: false }
        }
        if (done) {
          if (failure && !stopped) {
            stopped = true
            throw failure.error
          }
          return { value: undefined, done: true }
        }
        await new Promise<void>((resolve) => (wakeConsumer = resolve))
      }
    },
    async return(): Promise<IteratorResult<T>> {
      stopped = true
      queue.length = 0
      producerWake()
      await finished
      return { value: undefined, done: true }
    },
  }
  return iterator
}
