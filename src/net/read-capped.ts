// Reading an HTTP response body from an untrusted server with a size cap: refused at once when
// the declared length is over the cap, and the stream cancelled as soon as the bytes read pass
// it, so a hostile server cannot make us buffer more than `maxBytes`.

/** The body, or null once it passes `maxBytes` (the rest is not read). */
export async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array | null> {
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => {})
    return null
  }
  if (res.body === null) return new Uint8Array(0)
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => {})
      return null
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}
