// A Node stream's bytes as a web ReadableStream, for the Responses the relay's own fetches make
// from Node's and undici's answers. Not `Readable.toWeb`: cancelling the stream that returns
// leaves its listener on the Node stream, and the next chunk is then put into the closed stream,
// which throws where nothing catches it and ends the process (a PLC 404's body, cancelled by the
// caller, did so in a shard). Pulled from the stream's async iterator instead: a chunk is read
// only when asked for, cancelling returns the iterator (which destroys the Node stream and lets
// its connection go), and the Node stream's error or abort errors the web stream.

/** The web stream of `body`'s chunks, read as they are asked for. */
export function webStreamOf(body: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await chunks.next()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    async cancel() {
      await chunks.return?.()
    },
  })
}
