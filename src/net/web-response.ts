// Web Responses made from Node's and undici's answers, for the relay's own fetches
// (hosts/public-fetch.ts for did:web, net/light-fetch.ts for the PLC directory): one place for
// what a Response can carry and how a body is streamed.
// - A status outside 200–599 is refused (a Response cannot carry it) after the body is let go;
//   204, 205 and 304 get no body (a Response refuses one).
// - A header value fetch would not accept is left out, not thrown over.
// - The body is pulled from the Node stream's async iterator, not made with `Readable.toWeb`:
//   cancelling the stream that returns leaves its listener on the Node stream, and the next
//   chunk is then put into the closed stream, which throws where nothing catches it and ends the
//   process (a PLC 404's body, cancelled by the caller, did so in a shard). Pulled, a chunk is
//   read only when asked for, cancelling returns the iterator (which destroys the Node stream
//   and lets its connection go), and the Node stream's error or abort errors the web stream.

/** Statuses whose answers carry no body. */
const NO_BODY = new Set([204, 205, 304])

export interface NodeAnswer {
  readonly status: number
  /** Names and values in order, a repeated header repeated. */
  readonly headers: Iterable<readonly [string, string]>
  readonly body: AsyncIterable<Uint8Array>
  /** Lets go of a body nobody will read (drained or destroyed). */
  discard(): void
}

/** The Response of `answer`; throws for a status a Response cannot carry. */
export function webResponse(answer: NodeAnswer): Response {
  const { status } = answer
  if (status < 200 || status > 599) {
    answer.discard()
    throw new Error(`HTTP status ${status}`)
  }
  const headers = new Headers()
  for (const [name, value] of answer.headers) {
    try {
      headers.append(name, value)
    } catch {
      // a header value fetch would not accept: left out
    }
  }
  if (NO_BODY.has(status)) {
    answer.discard()
    return new Response(null, { status, headers })
  }
  return new Response(webStreamOf(answer.body), { status, headers })
}

/** The request headers of `init` as a plain record (what Node's and undici's requests take). */
export function requestHeaders(init: RequestInit | undefined): Record<string, string> {
  return Object.fromEntries(new Headers(init?.headers).entries())
}

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
