// Full `#commit` verification throughput on one core: frame decode + Lexicon parse + CAR with
// every block hashed + commit + signature + MST inversion, for realistic commits (~3 KB: one new
// post, the commit, and the MST nodes sync 1.1 requires) from repos of a few hundred records,
// made here with our own keys. Reports k256 on libsecp256k1 and on the pure fallback
// (node:crypto), p256, decode-only rates, and the share of time spent checking the signature.
import { measure, measureAsync, note } from '../../bench/harness.ts'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { readCarSlice } from '../protocol/car.ts'
import { parseCommit, unsignedCommitBytes } from '../protocol/commit.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { type CommitMessage, parseMessage } from '../protocol/messages.ts'
import { verifyCommit } from './commit.ts'
import type { Curve } from './crypto/keys.ts'
import { createVerifier } from './crypto/signature.ts'
import type { PreviousRepoState } from './signed-commit.ts'

const RECORDS = 300
const COMMITS = 200

interface Sample {
  frame: Uint8Array
  previous: PreviousRepoState
}

async function makeSamples(curve: Curve) {
  const repo = new TestRepo('did:plc:ewvi7nxzyoun6zhxrhs64oiz', generateKeypair(curve))
  const text = 'a realistic post of a couple of hundred characters, '.repeat(4)
  const post = (i: number) => ({
    action: 'create' as const,
    path: `app.bsky.feed.post/3l${String(i).padStart(11, '0')}`,
    record: {
      $type: 'app.bsky.feed.post',
      text,
      langs: ['en'],
      createdAt: new Date().toISOString(),
    },
  })
  for (let i = 0; i < RECORDS; i += 50)
    await repo.commit(Array.from({ length: 50 }, (_, j) => post(i + j)))
  const samples: Sample[] = []
  for (let i = 0; i < COMMITS; i++) {
    const previous = { rev: repo.rev!, data: repo.root }
    const msg = await repo.commit([post(RECORDS + i)])
    samples.push({ frame: messageFrame(msg), previous })
  }
  return { repo, samples }
}

const parse = (frame: Uint8Array) => {
  const f = decodeFrame(frame)
  if (f.op !== 1) throw new Error('not a message')
  return parseMessage(f) as CommitMessage
}

for (const curve of ['k256', 'p256'] as const) {
  const { repo, samples } = await makeSamples(curve)
  const avg = samples.reduce((n, s) => n + s.frame.length, 0) / samples.length
  note(
    `${curve}: ${samples.length} commits, average frame ${Math.round(avg)} bytes, repo of ${RECORDS + COMMITS} records`,
  )
  let i = 0
  const next = () => samples[i++ % samples.length]!

  if (curve === 'k256') measure('frame decode + message parse', () => parse(next().frame))
  if (curve === 'k256') {
    measure('  + CAR parse, every block hashed', () => readCarSlice(parse(next().frame).blocks))
  }

  const backends = curve === 'k256' ? (['native', 'fallback'] as const) : (['fallback'] as const)
  for (const backend of backends) {
    const verifier = createVerifier({ k256: backend })
    const label = curve === 'k256' ? `${curve} ${verifier.k256Backend}` : `${curve} node-crypto`
    const key = repo.keypair.publicKey
    const full = await measureAsync(`full #commit verification, ${label}`, async () => {
      const s = next()
      const v = await verifyCommit(parse(s.frame), {
        key,
        previous: s.previous,
        now: Date.now(),
        mode: 'strict',
        checkSignature: verifier.verifySignature,
      })
      if (!v.ok) throw new Error(`bench commit rejected: ${v.reason} ${v.detail}`)
    })
    // The signature alone, over the same commits.
    const signed = samples.map((s) => {
      const msg = parse(s.frame)
      const commit = parseCommit(readCarSlice(msg.blocks).blocks.get(msg.commit.$link)!)
      return { bytes: unsignedCommitBytes(commit), sig: commit.sig }
    })
    let j = 0
    const sig = measure(`  signature check alone, ${label}`, () => {
      const s = signed[j++ % signed.length]!
      if (!verifier.verifySignature(key, s.bytes, s.sig)) throw new Error('bad signature')
    })
    note(
      `share of time in signature checking: ${((100 * sig.microsPerOp) / full.microsPerOp).toFixed(0)}%`,
    )
  }
}
