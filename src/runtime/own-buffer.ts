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
