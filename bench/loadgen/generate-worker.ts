// A load-generation worker: builds the repos of the accounts it is given, then makes every event
// of theirs in schedule order (real signed sync 1.1 commits, with the rev the schedule fixes) and
// posts the frames back in chunks. See workload.ts for the schedule and the cache.
import { parentPort, workerData } from 'node:worker_threads'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import { createTid } from '../../src/protocol/syntax/tid.ts'
import { keypairFromSeed } from '../../test/support/keypair.ts'
import { seededRandom } from '../../test/support/seeded-random.ts'
import { messageFrame, TestRepo, type Write } from '../../test/support/test-repo.ts'
import { fastKeypair } from '../fast-keypair.ts'
import { didOf, type EventKind, type GenerateMessage, type GenerateTask, KIND } from './workload.ts'

const task = workerData as GenerateTask
const port = parentPort!
const post = (m: GenerateMessage) => port.postMessage(m)

interface AccountState {
  readonly repo: TestRepo
  /** Record paths in the repo, oldest first. */
  readonly paths: string[]
  commits: number
  /** Its own random stream and record counter: the workload is the same on any thread count. */
  readonly random: () => number
  counter: number
}

// What accounts write, roughly as on the network: mostly likes, then posts, follows, reposts.
const COLLECTIONS = [
  ['app.bsky.feed.like', 0.5],
  ['app.bsky.feed.post', 0.8],
  ['app.bsky.graph.follow', 0.95],
  ['app.bsky.feed.repost', 1],
] as const

const WORDS = 'the a relay firehose commit post today we see how this is what and more'.split(' ')
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
const createdAt = '2026-01-01T00:00:00.000Z'

function text(a: AccountState): string {
  const n = 3 + Math.floor(a.random() * 45)
  return Array.from({ length: n }, () => WORDS[Math.floor(a.random() * WORDS.length)]).join(' ')
}

// Every record differs from every earlier one (an update that changes nothing is no commit).
function record(a: AccountState, collection: string): Record<string, unknown> {
  const n = a.counter++
  switch (collection) {
    case 'app.bsky.feed.post':
      return { $type: collection, text: `${text(a)} ${n}`, langs: ['en'], createdAt }
    case 'app.bsky.graph.follow':
      return { $type: collection, subject: didOf(n), createdAt }
    default: {
      const uri = `at://${a.repo.did}/app.bsky.feed.post/3l${n}`
      return { $type: collection, subject: { uri, cid: CID }, createdAt }
    }
  }
}

function create(a: AccountState): Write {
  const r = a.random()
  const collection = COLLECTIONS.find(([, upTo]) => r < upTo)?.[0] ?? 'app.bsky.feed.like'
  const path = `${collection}/${createTid(1_700_000_000_000_000 + a.counter++ * 1000, 7)}`
  a.paths.push(path)
  return { action: 'create', path, record: record(a, collection) }
}

/** 60% creates, 25% updates (of posts or not: any record), 15% deletes of the oldest. */
function nextWrites(a: AccountState): Write[] {
  const r = a.random()
  if (r < 0.6 || a.paths.length < 10) return [create(a)]
  if (r < 0.85) {
    const path = a.paths[Math.floor(a.random() * a.paths.length)]!
    return [{ action: 'update', path, record: record(a, path.split('/')[0]!) }]
  }
  return [{ action: 'delete', path: a.paths.shift()! }]
}

/** Drops the blocks no longer in the repo's tree (the next commit reads only the tree). */
async function prune(repo: TestRepo): Promise<void> {
  const live = await repo.exportBlocks()
  for (const cid of repo.store.blocks.keys()) if (!live.has(cid)) repo.store.blocks.delete(cid)
}

/** An account at the workload's start: its repo holds `records` records (never emitted). */
async function startAccount(index: number) {
  const did = didOf(index)
  const random = seededRandom(task.params.seed * 1_000_003 + index)
  const curve: 'k256' | 'p256' = random() < 0.1 ? 'p256' : 'k256'
  // Keys from the seed too, so the same parameters make the same workload anywhere.
  const fromSeed = keypairFromSeed(curve, new TextEncoder().encode(`${task.params.seed}/${index}`))
  const keypair = curve === 'k256' ? fastKeypair(fromSeed.privateKey) : fromSeed
  const a: AccountState = {
    repo: new TestRepo(did, keypair),
    paths: [],
    commits: 0,
    random,
    counter: 0,
  }
  const initial = Array.from({ length: task.params.records }, () => create(a))
  if (initial.length > 0) await a.repo.commit(initial, { rev: createTid(task.baseMicros - 1, 0) })
  return { a, did, curve, keypair }
}

/**
 * Only the starting repos, as getRepo CARs: the same records and tree as the events were made
 * from (the same seeds), so the hosts can serve a repo that the cached commits continue.
 */
async function makeRepos(): Promise<void> {
  for (const index of task.accounts) {
    const { a } = await startAccount(index)
    post({ type: 'repo', index, car: await a.repo.exportCar() })
  }
  post({ type: 'done' })
}

async function makeEvents(): Promise<void> {
  const states = new Map<number, AccountState>()
  for (const index of task.accounts) {
    const { a, did, curve, keypair } = await startAccount(index)
    states.set(index, a)
    post({
      type: 'account',
      index,
      account: {
        did,
        host: index % task.params.hosts,
        curve,
        publicKeyMultibase: keypair.publicKeyMultibase,
      },
    })
  }

  let chunk: { i: number; kind: EventKind; frame: Uint8Array }[] = []
  const time = new Date().toISOString()
  for (const e of task.events) {
    const a = states.get(e.account)!
    let frame: Uint8Array
    if (e.kind === KIND.commit) {
      const msg = await a.repo.commit(nextWrites(a), {
        rev: createTid(task.baseMicros + e.i, 0),
        seq: e.seq,
      })
      frame = messageFrame(msg)
      if (++a.commits % 64 === 0) await prune(a.repo)
    } else if (e.kind === KIND.identity) {
      frame = encodeMessageFrame('#identity', { seq: e.seq, did: a.repo.did, time })
    } else {
      frame = encodeMessageFrame('#account', { seq: e.seq, did: a.repo.did, time, active: true })
    }
    chunk.push({ i: e.i, kind: e.kind, frame })
    if (chunk.length >= 500) {
      post({ type: 'frames', items: chunk })
      chunk = []
    }
  }
  post({ type: 'frames', items: chunk })
  post({ type: 'done' })
}

await (task.reposOnly ? makeRepos() : makeEvents())
