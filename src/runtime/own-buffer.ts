// Bytes ready to be transferred to another thread: a view of a whole ArrayBuffer as it is, any
// other view copied first. A view of part of a larger buffer (Node's small-allocation pool,
// which cannot be transferred at all, or a buffer other data shares) would detach its
// neighbours, so transferring what this returns never detaches anything but these bytes.

/** `bytes` in an ArrayBuffer of their own (`bytes` itself when it already is one). */
export function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
  if (whole && bytes.buffer instanceof ArrayBuffer) return bytes as Uint8Array<ArrayBuffer>
  // Not `bytes.slice()`: on a Buffer it is another view of the same pool.
  return new Uint8Array(bytes)
}

/**
 * Buffers at least this large are never Node's small-allocation pool (8 KiB), and are worth not
 * copying along with a few small views of them (archive/change-buffers.ts).
 */
export const LARGE_BUFFER_BYTES = 64 * 1024

/**
 * The large ArrayBuffers behind these views (a whole repo's CAR), to transfer rather than copy
 * when the views are posted: posting a view copies its whole buffer. Every view of them,
 * anywhere, reads as empty afterwards, so the caller must hand over all it holds of them.
 */
export function largeBuffers(views: Iterable<Uint8Array>): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>()
  for (const v of views) {
    if (v.buffer instanceof ArrayBuffer && v.buffer.byteLength >= LARGE_BUFFER_BYTES) {
      found.add(v.buffer)
    }
  }
  return [...found]
}
