// Views packed into one buffer: the same bytes, one after another, views into the one buffer;
// the buffers they came from untouched.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PackedBytes } from './packed-bytes.ts'

test('views are copied in order into one buffer and handed back as views of it', () => {
  const source = Uint8Array.of(1, 2, 3, 4, 5)
  const packed = new PackedBytes(5)
  const a = packed.add(source.subarray(3, 5))
  const empty = packed.add(new Uint8Array(0))
  const b = packed.add(source.subarray(0, 3))
  assert.deepEqual([...a, ...b], [4, 5, 1, 2, 3])
  assert.equal(empty.length, 0)
  assert.equal(a.buffer, packed.bytes.buffer)
  assert.equal(b.buffer, packed.bytes.buffer)
  assert.deepEqual([a.byteOffset, b.byteOffset], [0, 2])
  assert.deepEqual([...packed.bytes], [4, 5, 1, 2, 3])
  source[0] = 9
  assert.equal(b[0], 1, 'a copy, not a view of the source')
})

test('more bytes than it was sized for is refused', () => {
  assert.throws(() => new PackedBytes(1).add(Uint8Array.of(1, 2)), RangeError)
})
