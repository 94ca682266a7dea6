// A change's blocks as they cross threads: a change whose blocks are small views into a large
// buffer (an import's CAR) is packed into one buffer holding only its blocks, which a shard then
// transfers; a commit's change, whose blocks fill their small buffers, goes as it is.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { postableChange, transferableChange } from './change-buffers.ts'
import type { RepoChange } from './repo-change.ts'

const viewsOfLargeBuffer = (): { car: Uint8Array; change: RepoChange } => {
  const car = new Uint8Array(1 << 20)
  car.set([1, 2, 3], 1000)
  return {
    car,
    change: {
      head: {
        rev: '3laaaaaaaaaa2',
        commitCid: 'c',
        dataCid: 'd',
        commitBlock: car.subarray(0, 10),
      },
      addNodes: new Map([['n', car.subarray(1000, 1003)]]),
      removeNodes: ['x'],
      addRecords: [
        ['r', car.subarray(2000, 2100)],
        ['s', new Uint8Array([9, 9])],
      ],
      removeRecords: ['y'],
    },
  }
}

test("a change's blocks that are views into a large buffer are posted without the rest of it", () => {
  const { car, change } = viewsOfLargeBuffer()
  const posted = postableChange(change)
  const node = posted.addNodes.get('n')!
  assert.deepEqual([...node], [1, 2, 3])
  assert.deepEqual([...posted.addRecords[1]![1]], [9, 9])
  const blocks = [posted.head.commitBlock, node, ...posted.addRecords.map(([, b]) => b)]
  const buffer = posted.head.commitBlock.buffer
  assert.notEqual(buffer, car.buffer)
  for (const b of blocks) assert.equal(b.buffer, buffer, 'one buffer for them all')
  assert.equal(buffer.byteLength, 10 + 3 + 100 + 2, 'holding only their bytes')
  assert.deepEqual(posted.removeNodes, ['x'])
  assert.deepEqual(posted.removeRecords, ['y'])
  // Packed already, it is posted as it is (the main thread hands a shard's change on).
  assert.equal(postableChange(posted), posted)
})

test('a packed change is handed over with its one buffer to transfer', () => {
  const { change } = viewsOfLargeBuffer()
  const { change: packed, transfer } = transferableChange(change)
  assert.equal(transfer.length, 1)
  assert.equal(packed.head.commitBlock.buffer, transfer[0])
  assert.deepEqual([...packed.addNodes.get('n')!], [1, 2, 3])
})

test('a change whose blocks have buffers of their own is posted as it is', () => {
  const change: RepoChange = {
    head: { rev: '3laaaaaaaaaa2', commitCid: 'c', dataCid: 'd', commitBlock: new Uint8Array(10) },
    addNodes: new Map([['n', new Uint8Array(3)]]),
    removeNodes: [],
    addRecords: [['r', new Uint8Array(100)]],
    removeRecords: [],
  }
  assert.equal(postableChange(change), change)
  assert.deepEqual(transferableChange(change), { change, transfer: [] })
  // A commit's blocks: views into its own frame of a few KiB, which they mostly fill.
  const frame = new Uint8Array(3000)
  const commit: RepoChange = {
    ...change,
    head: { ...change.head, commitBlock: frame.subarray(0, 2000) },
  }
  assert.equal(postableChange(commit), commit)
})
