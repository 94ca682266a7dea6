// MST inversion cost per commit, on its own: the same kind of commits as commit.bench.ts (one new
// post in a repo of a few hundred records) plus a mix of creates, updates and deletes, with the CAR
// slice already parsed. Also the two primitives the inversion leans on: parsing one MST node and
// one key height. Reports numbers only.
import { measure, note } from '../../bench/harness.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { readCarSlice } from '../protocol/car.ts'
import { parseCommit } from '../protocol/commit.ts'
import type { RepoOp } from '../protocol/messages.ts'
import { mstKeyHeight, parseMstNode } from '../protocol/mst.ts'
import { invertOps } from './invert.ts'

interface Sample {
  readonly blocks: ReadonlyMap<string, Uint8Array>
  readonly root: string
  readonly ops: readonly RepoOp[]
  readonly expected: string
}

const path = (i: number) => `app.bsky.feed.post/3l${String(i).padStart(11, '0')}`
let edits = 0
const post = (i: number, action: Write['action'] = 'create'): Write =>
  action === 'delete'
    ? { action, path: path(i) }
    : { action, path: path(i), record: { $type: 'app.bsky.feed.post', text: `post ${edits++}` } }

async function makeSamples(mixed: boolean): Promise<Sample[]> {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair('k256'))
  for (let i = 0; i < 300; i += 50)
    await repo.commit(Array.from({ length: 50 }, (_, j) => post(i + j)))
  const samples: Sample[] = []
  for (let i = 0; i < 200; i++) {
    const prev = repo.root!
    const writes = mixed
      ? [post(300 + i), post(i % 100, 'update'), post(150 + i, 'delete')]
      : [post(300 + i)]
    const msg = await repo.commit(writes)
    const car = readCarSlice(msg.blocks)
    const commit = parseCommit(car.blocks.get(msg.commit.$link)!)
    samples.push({ blocks: car.blocks, root: commit.data.$link, ops: msg.ops, expected: prev })
  }
  return samples
}

for (const mixed of [false, true]) {
  const samples = await makeSamples(mixed)
  const nodes = samples.map((s) => s.blocks.size - 1 - s.ops.filter((o) => o.cid).length)
  note(
    `${mixed ? 'create + update + delete' : 'one create'}: ${samples.length} commits, ` +
      `${(nodes.reduce((a, b) => a + b, 0) / samples.length).toFixed(1)} MST nodes each`,
  )
  let i = 0
  measure(`invertOps, ${mixed ? '3 ops' : '1 op'}`, () => {
    const s = samples[i++ % samples.length]!
    const r = invertOps(s.blocks, s.root, s.ops)
    if (r instanceof Promise) throw new Error('the bench measures a synchronous inversion')
    if (!r.ok || r.previousRoot !== s.expected)
      throw new Error(`bad inversion ${JSON.stringify(r)}`)
  })
}

const samples = await makeSamples(false)
const rootBlocks = samples.map((s) => s.blocks.get(s.root)!)
let j = 0
measure('parseMstNode, root node', () => parseMstNode(rootBlocks[j++ % rootBlocks.length]!))
const keys = Array.from({ length: 512 }, (_, k) => path(k))
let k = 0
measure('mstKeyHeight', () => mstKeyHeight(keys[k++ & 511]!))
